/**
 * A JSON-RPC result as YAML-like text for people (what `sipctl rpc` prints, like kamcmd's
 * output but unambiguous): mappings as `key: value`, lists as `- item`, nested by two spaces.
 *
 * Values come from the proxy and are untrusted: any string that is not plainly safe is written
 * as a JSON string literal, so control characters, ESC sequences and C1 controls appear escaped
 * (`"\u001b[31m"`) and can never drive the terminal. Empty strings, strings that look like
 * numbers/booleans/null, or contain `: `/` #`, or start or end with blanks are quoted as well.
 */
export function renderYamlish(value: unknown): string {
  const out: string[] = [];
  emit(value, 0, out);
  return out.join('\n');
}

const PLAIN = /^[^\s\-?:,[\]{}#&*!|>'"%@`][^\x00-\x1f\x7f-\x9f\u2028\u2029]*$/;
const AMBIGUOUS = /^(?:[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|true|false|yes|no|on|off|null|~|\.inf|\.nan)$/i;

export function yamlScalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  const s = String(v);
  if (PLAIN.test(s) && !AMBIGUOUS.test(s) && !s.includes(': ') && !s.includes(' #') && !/\s$/.test(s)) return s;
  return quote(s);
}

/** JSON string literal that also escapes C1 controls and DEL (JSON.stringify leaves them raw). */
function quote(s: string): string {
  return JSON.stringify(s).replace(/[\x7f-\x9f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function key(k: string): string {
  return PLAIN.test(k) && !k.includes(': ') && !/\s$/.test(k) ? k : quote(k);
}

function isContainer(v: unknown): v is object {
  return typeof v === 'object' && v !== null && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
}

function emptyContainer(v: unknown): string | undefined {
  if (Array.isArray(v) && v.length === 0) return '[]';
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) return '{}';
  return undefined;
}

function emit(v: unknown, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  const empty = emptyContainer(v);
  if (empty !== undefined) {
    out.push(pad + empty);
    return;
  }
  if (!isContainer(v)) {
    out.push(pad + yamlScalar(v));
    return;
  }
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isContainer(item)) {
        const sub: string[] = [];
        emit(item, indent + 2, sub);
        // "- " takes the place of the first line's indentation
        out.push(pad + '- ' + sub[0]!.slice(indent + 2));
        for (let i = 1; i < sub.length; i++) out.push(sub[i]!);
      } else {
        out.push(pad + '- ' + (emptyContainer(item) ?? yamlScalar(item)));
      }
    }
    return;
  }
  for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
    if (isContainer(item)) {
      out.push(`${pad}${key(k)}:`);
      emit(item, indent + 2, out);
    } else {
      out.push(`${pad}${key(k)}: ${emptyContainer(item) ?? yamlScalar(item)}`);
    }
  }
}
