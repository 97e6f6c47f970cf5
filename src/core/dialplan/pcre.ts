import { ValidationError } from '../errors.js';

/*
 * Will Kamailio's dialplan module (PCRE, compiled at load time) accept this regular expression
 * and mean by it what the operator sees? sipctl has no PCRE, so it checks in two steps:
 *  1. refuse constructs that PCRE and JavaScript read differently, or that only one of them
 *     knows: PCRE-only escapes (\A \Z \z \G \K \R \h \v \X \C \N \e \Q…\E \x{…}), possessive
 *     quantifiers and atomic groups, inline options ((?i)…), recursion and conditionals, JS-only
 *     \u escapes, and lookbehind with a quantifier (PCRE wants fixed length, JS does not);
 *  2. compile the rest with JavaScript's RegExp (POSIX classes like [[:digit:]], which PCRE
 *     knows and JS misreads, are replaced by an equivalent for this check only).
 * What passes both is in the common subset, where the two engines agree; a few valid PCRE
 * patterns are refused with a message naming the construct, none that PCRE refuses is accepted.
 */
const PCRE_ONLY: Array<[RegExp, string]> = [
  [/\\[AZzGKRhHvVXCNeQE]/, 'PCRE-only escape'],
  [/\\x\{/, 'PCRE-only \\x{…} escape'],
  [/\\[uU]/, 'JavaScript-only \\u escape'],
  [/(?:[*+?}])\+/, 'possessive quantifier'],
  [/\(\?>/, 'atomic group'],
  [/\(\?[a-zA-Z-]+[):]/, 'inline option group such as (?i)'],
  [/\(\?(?:R|\d|\(|&|P[>=]|\|)/, 'recursion, conditional or branch-reset group'],
  [/\(\?<[=!][^)]*[*+?{]/, 'lookbehind of variable length'],
];

const POSIX_CLASS = /\[:(alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]/g;
const POSIX_EQUIV: Record<string, string> = {
  alnum: 'a-zA-Z0-9', alpha: 'a-zA-Z', ascii: '\\x00-\\x7f', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f', digit: '0-9', graph: '!-~',
  lower: 'a-z', print: ' -~', punct: '!-/:-@\\[-`{-~', space: '\\s', upper: 'A-Z', word: '\\w', xdigit: '0-9a-fA-F',
};

/** Compile-check a pattern; returns its number of capturing groups. */
export function checkPcre(field: string, pattern: string): number {
  if (/[\x00-\x1f\x7f]/.test(pattern)) throw new ValidationError(field, 'must not contain control characters');
  for (const [re, what] of PCRE_ONLY) {
    const m = re.exec(pattern);
    if (m) throw new ValidationError(field, `"${m[0]}" (${what}) is outside what sipctl can check for Kamailio's PCRE`, 'write it with plain groups, classes and quantifiers, e.g. [0-9] and (…)');
  }
  let re: RegExp;
  try {
    re = new RegExp(pattern.replace(POSIX_CLASS, (_, c: string) => POSIX_EQUIV[c]!));
  } catch (e) {
    throw new ValidationError(field, `"${pattern}" is not a valid regular expression (${(e as Error).message.replace(/^Invalid regular expression: \/.*\/: /, '')})`);
  }
  // groups: the match array of the pattern or-ed with the empty string has one slot per group
  return new RegExp(`${re.source}|`).exec('')!.length - 1;
}
