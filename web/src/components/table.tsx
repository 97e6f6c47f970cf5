// Tables of what the server answered. Every value is rendered as text (Preact makes text nodes),
// never as HTML: a User-Agent or an htable key holding markup shows as the characters it is.
import type { ComponentChildren } from 'preact';
import { keysOf, label, text, type Row } from '../data';

export interface Column { key: string; label?: string; render?: (row: Row) => ComponentChildren }

export function DataTable(props: {
  caption: string;
  rows: Row[];
  columns?: Column[];
  drop?: string[];
  actions?: (row: Row) => ComponentChildren;
  empty?: string;
  testid?: string;
}) {
  const derived = keysOf(props.rows, props.drop).map((key) => ({ key }));
  const cols: Column[] = props.columns ?? (derived.length ? derived : [{ key: 'value', label: 'Value' }]);
  return (
    <div class="table-wrap">
      <table data-testid={props.testid}>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {cols.map((c) => (
              <th scope="col">{c.label ?? label(c.key)}</th>
            ))}
            {props.actions && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {props.rows.length === 0 ? (
            <tr>
              <td colSpan={Math.max(1, cols.length + (props.actions ? 1 : 0))} class="empty">
                {props.empty ?? 'Nothing here.'}
              </td>
            </tr>
          ) : (
            props.rows.map((r) => (
              <tr>
                {cols.map((c) => (
                  <td data-label={c.label ?? label(c.key)}>{c.render ? c.render(r) : text(r[c.key])}</td>
                ))}
                {props.actions && <td class="actions">{props.actions(r)}</td>}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

export function Pager(props: { offset: number; limit: number; total?: number; shown: number; onPage: (offset: number) => void }) {
  const { offset, limit, total, shown } = props;
  const last = total !== undefined ? offset + shown >= total : shown < limit;
  return (
    <nav class="pager" aria-label="paging">
      <button type="button" disabled={offset === 0} onClick={() => props.onPage(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span>
        {shown ? `${offset + 1}–${offset + shown}` : '0'}
        {total !== undefined ? ` of ${total}` : ''}
      </span>
      <button type="button" disabled={last} onClick={() => props.onPage(offset + limit)}>
        Next
      </button>
    </nav>
  );
}

/** A labelled input: the label names it for screen readers. */
export function Field(props: {
  label: string;
  name: string;
  value: string;
  onInput: (v: string) => void;
  type?: string;
  required?: boolean;
  placeholder?: string;
  autocomplete?: string;
  hint?: string;
  inputMode?: string;
}) {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={(props.type ?? 'text') as any}
        value={props.value}
        required={props.required}
        placeholder={props.placeholder}
        autoComplete={props.autocomplete ?? 'off'}
        inputMode={props.inputMode as any}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      {props.hint && (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** Asks before a destructive change; the question names what goes. */
export function confirmed(question: string): boolean {
  return window.confirm(question);
}
