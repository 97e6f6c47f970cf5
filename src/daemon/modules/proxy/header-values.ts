/** Small helpers over raw header values shared by the proxy and dialog modules. */
import type { HeaderField } from '../../../core/sip/message.js';

/** The first value of a header (by canonical key), as received. */
export function headerValue(msg: { headers: readonly HeaderField[] }, key: string): string | undefined {
  for (const f of msg.headers) if (f.key === key) return f.value;
  return undefined;
}

/** Every comma-separated value of a header over all its fields, in order. */
export function allValues(msg: { headers: readonly HeaderField[] }, key: string): string[] {
  const out: string[] = [];
  for (const f of msg.headers) if (f.key === key) for (const v of splitList(f.value)) out.push(v);
  return out;
}

/** Split a header value list at commas outside <…> and quoted strings. */
export function splitList(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      out.push(v.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = v.slice(start).trim();
  if (last !== '') out.push(last);
  return out;
}

/** The URI inside a name-addr value (Route, Record-Route, From…): between < and >, else up to ";". */
export function routeUri(v: string): string {
  const lt = v.indexOf('<');
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    return v.slice(lt + 1, gt < 0 ? undefined : gt);
  }
  return v.split(';')[0].trim();
}
