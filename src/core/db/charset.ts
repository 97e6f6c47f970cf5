/**
 * What a Kamailio text column can hold. Kamailio's schema (kamdbctl, and `sipctl db init`) creates
 * its tables with DEFAULT CHARSET=latin1, so MariaDB refuses (strict mode) or silently turns into
 * "?" (non-strict) any character outside ISO-8859-1, e.g. an emoji or Greek letters, while SQLite
 * stores anything. Checking before the write makes both engines behave the same: a usage error
 * (exit 2) that names the column's character set.
 */
import { ValidationError } from '../errors.js';

/** The character set of every text column sipctl creates (src/core/db/schema/tables.ts). */
export const COLUMN_CHARSET = 'latin1';

/**
 * The first character a latin1 column cannot hold, or undefined. Allowed: U+0000–U+007F and
 * U+00A0–U+00FF. MariaDB's latin1 is really cp1252, which maps most of 0x80–0x9F to other
 * characters: the C1 range U+0080–U+009F is refused so a value never comes back changed.
 */
export function firstNonLatin1(value: string): string | undefined {
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c > 0xff || (c >= 0x80 && c < 0xa0)) return ch;
  }
  return undefined;
}

function describe(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Refuse a value the column's character set (latin1) cannot hold: exit 2, naming the character set. */
export function assertColumnText(field: string, value: string): string {
  const bad = firstNonLatin1(value);
  if (bad !== undefined) {
    throw new ValidationError(field, `contains ${JSON.stringify(bad)} (${describe(bad)}), which the column's character set ${COLUMN_CHARSET} cannot hold`, 'use characters of ISO-8859-1 (latin1) only');
  }
  return value;
}

/** For values that must be stored anyway (e.g. a User-Agent sipd records): each such character becomes "?". */
export function toColumnText(value: string): string {
  return firstNonLatin1(value) === undefined ? value : [...value].map((ch) => (firstNonLatin1(ch) === undefined ? ch : '?')).join('');
}

/**
 * MariaDB/MySQL errors caused by a VALUE (not by the SQL) → a usage error, so a value the server
 * cannot hold is never reported as "a bug in sipctl": a string the column's character set cannot
 * hold (1366), a comparison of a latin1 column with such a string (1267/1270/1271), too long (1406).
 */
export function mapValueError(err: unknown): unknown {
  const e = err as { errno?: number; sqlMessage?: string; message?: string };
  const msg = e?.sqlMessage ?? e?.message ?? '';
  switch (e?.errno) {
    case 1366: {
      const col = /for column [`"]?(?:[^`"]+[`"]?\.[`"]?)?([^`".]+)[`"]?\.[`"]?([^`"]+)[`"]? at row/.exec(msg);
      const field = col ? `${col[1]}.${col[2]}` : 'value';
      return new ValidationError(field, `holds a character the column's character set cannot hold (server: ${msg})`, `Kamailio tables are ${COLUMN_CHARSET}: use characters of ISO-8859-1 only`);
    }
    case 1267:
    case 1270:
    case 1271: {
      const cs = /\(([a-z0-9]+)_[a-z0-9_]+,IMPLICIT\)/.exec(msg)?.[1] ?? COLUMN_CHARSET;
      return new ValidationError('value', `holds a character the column's character set ${cs} cannot hold`, 'use characters of ISO-8859-1 (latin1) only');
    }
    case 1406: {
      const col = /for column [`"]?([^`"]+)[`"]?/.exec(msg)?.[1] ?? 'value';
      return new ValidationError(col, 'is too long for its column');
    }
    default:
      return err;
  }
}
