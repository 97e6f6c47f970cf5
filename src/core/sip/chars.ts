/**
 * Character classes of the RFC 3261 §25.1 grammar as 128-entry lookup tables. Every scanner in
 * this directory walks its input once, consulting these tables: no backtracking regular
 * expressions, so parse time is linear in the input whatever an attacker sends.
 */

export type CharSet = Uint8Array;

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGIT = '0123456789';
const ALPHANUM = ALPHA + DIGIT;

/** A lookup table of the given ASCII characters. */
export function charSet(chars: string): CharSet {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** True if char code `c` is in `set` (anything outside ASCII never is). */
export function inSet(set: CharSet, c: number): boolean {
  return c < 128 && set[c] === 1;
}

/** mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")" */
const MARK = "-_.!~*'()";
/** unreserved = alphanum / mark */
export const UNRESERVED = ALPHANUM + MARK;

export const DIGITS = charSet(DIGIT);
export const ALPHAS = charSet(ALPHA);
export const HEXDIGS = charSet(DIGIT + 'abcdefABCDEF');

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const TOKEN = charSet(ALPHANUM + "-.!%*_+`'~");

/** word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}") */
export const WORD = charSet(ALPHANUM + "-.!%*_+`'~()<>:\\\"/[]?{}");

/** user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/" */
export const USER = charSet(UNRESERVED + '&=+$,;?/');

/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
export const PASSWORD = charSet(UNRESERVED + '&=+$,');

/** paramchar = param-unreserved / unreserved / escaped; param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$" */
export const PARAMCHAR = charSet(UNRESERVED + '[]/:&+$');

/** hname / hvalue chars: hnv-unreserved / unreserved / escaped; hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$" */
export const HNVCHAR = charSet(UNRESERVED + '[]/?:+$');

/** uric = reserved / unreserved / escaped; reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / "," */
export const URIC = charSet(UNRESERVED + ';/?:@&=+$,');

/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (after the first character) */
export const SCHEME_TAIL = charSet(ALPHANUM + '+-.');

/** Characters of a hostname or IPv4 address (validated further by validateHost). */
export const HOSTCHAR = charSet(ALPHANUM + '-.');

/** RFC 3966 phonedigit-hex plus the global "+" prefix: HEXDIG / "*" / "#" / visual-separator */
export const TELCHAR = charSet(DIGIT + 'abcdefABCDEF*#-.()+');

/** RFC 3966 pname = 1*( alphanum / "-" ) */
export const TEL_PNAME = charSet(ALPHANUM + '-');

export const SP = 0x20;
export const HTAB = 0x09;

export function isWsp(c: number): boolean {
  return c === SP || c === HTAB;
}

/**
 * Check that every character of `s[from, to)` is in `set` or part of an escape ("%" HEXDIG
 * HEXDIG) when `escapes` is true. Returns the index of the first offending character, or -1.
 */
export function firstInvalid(s: string, set: CharSet, escapes: boolean, from = 0, to = s.length): number {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 /* % */ && escapes) {
      if (i + 2 < to && inSet(HEXDIGS, s.charCodeAt(i + 1)) && inSet(HEXDIGS, s.charCodeAt(i + 2))) {
        i += 2;
        continue;
      }
      return i;
    }
    if (!inSet(set, c)) return i;
  }
  return -1;
}

/** True if the whole of `s` is one or more token characters. */
export function isToken(s: string): boolean {
  return s.length > 0 && firstInvalid(s, TOKEN, false) === -1;
}
