/**
 * Destination classes for the rules that restrict where a call may go (time rules, home-country
 * restriction). A class is one of:
 *   all            every dialled number
 *   international  a number dialled with "+" or "00" (how the blocked-prefix table and the stock
 *                  PSTN pattern write international numbers)
 *   national       a number that is not international (digits only)
 *   a prefix       digits, "+", "*", "#", matched as written (like `sipctl block`), e.g. +4490, 1900
 * Visual separators (space, "-", ".", "(", ")") are ignored in numbers and prefixes.
 */
import { ValidationError } from '../errors.js';

export const NAMED_CLASSES = ['all', 'international', 'national'] as const;

function clean(s: string): string {
  return s.replace(/[-.() ]/g, '');
}

export function isInternational(number: string): boolean {
  const n = clean(number);
  return n.startsWith('+') || n.startsWith('00');
}

/** A class as stored: a named class, or a normalised prefix; ValidationError otherwise. */
export function normaliseClass(input: string): string {
  const s = input.trim().toLowerCase();
  if ((NAMED_CLASSES as readonly string[]).includes(s)) return s;
  const p = clean(s);
  if (p.length === 0 || p.length > 32 || !/^\+?[0-9*#]+$/.test(p)) {
    throw new ValidationError('class', `"${input.slice(0, 40)}" is neither a class (${NAMED_CLASSES.join(', ')}) nor a dialled-number prefix`, 'e.g. international, premium numbers as a prefix such as +4490 or 1900');
  }
  return p;
}

/** Does a dialled number fall into the (normalised) class? */
export function classMatches(cls: string, number: string): boolean {
  switch (cls) {
    case 'all':
      return true;
    case 'international':
      return isInternational(number);
    case 'national':
      return !isInternational(number) && /^[0-9*#]/.test(clean(number));
    default:
      return clean(number).startsWith(cls);
  }
}
