import { isIP } from 'node:net';
import { ValidationError } from '../errors.js';

// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved )
//   unreserved = alphanum / "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
//   user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
//   escaped = "%" HEXDIG HEXDIG
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

// The subscriber table's columns are VARCHAR(64).
export const MAX_USERNAME = 64;
export const MAX_DOMAIN = 64;

function describeBadChar(value: string): string | undefined {
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) return `control character U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
    if (ch === ' ' || ch === '\t') return 'a space';
    if (code > 0x7e) return `non-ASCII character "${ch}" (percent-encode it)`;
  }
  return undefined;
}

export function validateUsername(username: string): string {
  if (username.length === 0) throw new ValidationError('username', 'must not be empty');
  if (username.length > MAX_USERNAME) throw new ValidationError('username', `is ${username.length} characters; the maximum is ${MAX_USERNAME}`);
  const bad = describeBadChar(username);
  if (bad) throw new ValidationError('username', `contains ${bad}; RFC 3261 user parts may not`, 'use letters, digits and - _ . ! ~ * \' ( ) & = + $ , ; ? / or %XX escapes');
  if (!USER_RE.test(username)) {
    const ch = [...username].find((c) => !/[A-Za-z0-9\-_.!~*'()&=+$,;?/%]/.test(c));
    throw new ValidationError('username', ch ? `contains "${ch}", which RFC 3261 does not allow in a user part` : 'has a malformed %XX escape');
  }
  return username;
}

export function validateDomain(domain: string): string {
  if (domain.length === 0) throw new ValidationError('domain', 'must not be empty');
  if (domain.length > MAX_DOMAIN) throw new ValidationError('domain', `is ${domain.length} characters; the maximum is ${MAX_DOMAIN}`);
  const bad = describeBadChar(domain);
  if (bad) throw new ValidationError('domain', `contains ${bad}`);
  if (domain.startsWith('[') && domain.endsWith(']')) {
    if (isIP(domain.slice(1, -1)) === 6) return domain;
    throw new ValidationError('domain', `"${domain}" is not a valid IPv6 reference`);
  }
  if (isIP(domain)) return domain;
  const labels = domain.replace(/\.$/, '').split('.');
  if (labels.every((l) => HOST_LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1])) return domain.toLowerCase();
  throw new ValidationError('domain', `"${domain}" is neither a hostname nor an IP address`);
}

/** "user@domain" or "user" + default domain. The last @ separates (RFC 3261 users cannot contain @). */
export function splitAor(aor: string, defaultDomain?: string): { username: string; domain: string } {
  let user = aor;
  let domain = defaultDomain;
  const stripped = aor.replace(/^sips?:/i, '');
  const at = stripped.lastIndexOf('@');
  if (at >= 0) {
    user = stripped.slice(0, at);
    domain = stripped.slice(at + 1);
  } else {
    user = stripped;
  }
  if (domain === undefined || domain === '') {
    throw new ValidationError('domain', `no domain in "${aor}" and no default domain configured`, 'give user@domain, --domain, SIPCTL_DOMAIN, or "domain" in the config file');
  }
  return { username: validateUsername(user), domain: validateDomain(domain) };
}
