// The console's one status region: what the last change did, the sipctl command that does the
// same (from the answer's `command`), the CLI's warnings, or the error with its hint.
// aria-live so a screen reader announces it; errors use role=alert.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Reply } from '../api';

export interface Notice { kind: 'ok' | 'error'; message: string; command?: string; warnings?: string[]; hint?: string; code?: string }

let current: Notice | undefined;
const listeners = new Set<(n: Notice | undefined) => void>();

export function notify(n: Notice | undefined): void {
  current = n;
  for (const l of listeners) l(n);
}

/** The notice for a successful change. */
export function done(message: string, reply: Reply<unknown>): void {
  notify({ kind: 'ok', message, command: reply.command, warnings: reply.warnings });
}

/** The notice for a failed request. */
export function failed(e: unknown, what?: string): void {
  if (e instanceof ApiError) notify({ kind: 'error', message: what ? `${what}: ${e.message}` : e.message, hint: e.hint, code: e.code });
  else notify({ kind: 'error', message: what ? `${what}: ${String(e)}` : String(e) });
}

export function StatusRegion() {
  const [n, setN] = useState<Notice | undefined>(current);
  useEffect(() => {
    listeners.add(setN);
    return () => void listeners.delete(setN);
  }, []);
  return (
    <div class="status-region" aria-live="polite" aria-atomic="true">
      {n && (
        <div class={`notice notice-${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'} data-testid="notice">
          <p class="notice-message">
            {n.kind === 'error' && n.code ? <span class="code">{n.code}</span> : null} {n.message}
          </p>
          {n.hint && <p class="notice-hint">{n.hint}</p>}
          {n.command && (
            <p class="notice-command">
              Same from the command line: <code data-testid="command">{n.command}</code>
            </p>
          )}
          {n.warnings?.length ? (
            <ul class="warnings" aria-label="warnings">
              {n.warnings.map((w) => (
                <li>{w}</li>
              ))}
            </ul>
          ) : null}
          <button type="button" class="link" onClick={() => notify(undefined)}>
            Dismiss
          </button>
        </div>
      )}
    </div>
  );
}

/** Warnings that came with a listing (storage mode, nodes that did not answer). */
export function Warnings({ list }: { list: string[] }) {
  if (!list.length) return null;
  return (
    <ul class="warnings" aria-label="warnings">
      {list.map((w) => (
        <li>{w}</li>
      ))}
    </ul>
  );
}
