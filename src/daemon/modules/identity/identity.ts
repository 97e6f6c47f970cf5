/**
 * Network-asserted identity headers and who may set them (RFC 3325 §5: a proxy removes
 * P-Asserted-Identity from requests of untrusted sources; P-Preferred-Identity and the older
 * Remote-Party-ID draft header carry the same claim and go the same way).
 *
 * Matching is on the header's canonical key, which the parser already derives from any spelling:
 * any case, whitespace before the colon, a folded value. Every occurrence is removed, however many
 * there are. A name is compared after lower-casing and dropping whitespace, so a configured list
 * entry is also matched however it is written.
 */
import type { HeaderField } from '../../../core/sip/message.js';
import { compactForm, headerKey } from '../../../core/sip/headers.js';

export const IDENTITY_HEADERS: readonly string[] = ['P-Asserted-Identity', 'P-Preferred-Identity', 'Remote-Party-ID'];

/** The set of canonical keys for a list of header names (long forms and their compact forms). */
export function identityKeys(names: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const n of names) {
    const key = headerKey(n.replace(/\s+/g, ''));
    if (key === '') continue;
    out.add(key);
    const c = compactForm(key);
    if (c !== undefined) out.add(c);
  }
  return out;
}

/** Remove every field whose key (or raw name, normalised) is in `keys`; returns how many went. */
export function stripHeaders(headers: HeaderField[], keys: ReadonlySet<string>): number {
  let w = 0;
  let removed = 0;
  for (let r = 0; r < headers.length; r++) {
    const f = headers[r];
    if (keys.has(f.key) || keys.has(headerKey(f.name.replace(/\s+/g, '')))) {
      removed++;
      continue;
    }
    headers[w++] = f;
  }
  headers.length = w;
  return removed;
}

/** Does any field match `keys` (same test as stripHeaders)? */
export function hasHeaders(headers: readonly HeaderField[], keys: ReadonlySet<string>): boolean {
  for (const f of headers) if (keys.has(f.key) || keys.has(headerKey(f.name.replace(/\s+/g, '')))) return true;
  return false;
}
