import { RpcError } from './rpc-error.js';

/**
 * kamcmd-style typing of command-line RPC parameters.
 *
 *   i:<int>     integer, validated (e.g. `i:5` -> 5); range -2147483648..4294967295
 *               (Kamailio reads ints as C int/unsigned int)
 *   s:<text>    string, verbatim (e.g. `s:007` -> "007", `s:` -> "")
 *   d:<num>     double, validated (`f:` is accepted as an alias)
 *   j:<json>    raw JSON value, e.g. `j:{"a":1}` or `j:[1,2]` or `j:null` - a sipctl
 *               extension for the few methods that take structured parameters
 *   <integer>   a bare decimal integer in C int range becomes a number, as in kamcmd
 *               (`5`, `-3`, `007` -> 7)
 *   anything else is a string.
 *
 * Deliberate differences from kamcmd:
 *  - kamcmd sends any bare value strtod() accepts (`1.5`, `1e3`, `inf`) as a double; here only
 *    bare integers are numbers, so IP addresses, versions and the like stay strings. Use d:.
 *  - a bare integer outside C int range (61312341234, a typical E.164 user name) stays a
 *    string: kamcmd truncates it to 32 bits, and Kamailio converts numbers to strings through
 *    a C int, so sending it as a number would corrupt it.
 */
export function parseKamcmdParams(args: string[]): unknown[] {
  return args.map((arg, i) => parseKamcmdParam(arg, i + 1));
}

const INT_RE = /^[+-]?\d+$/;
const DOUBLE_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const UINT_MAX = 4294967295;

/** One parameter; `position` (1-based) only labels errors. */
export function parseKamcmdParam(arg: string, position = 1): unknown {
  const typed = /^([isdfj]):/.exec(arg);
  if (typed) {
    const value = arg.slice(2);
    switch (typed[1]) {
      case 's':
        return value;
      case 'i': {
        const n = INT_RE.test(value) ? Number(value) : NaN;
        if (!Number.isInteger(n) || n < INT_MIN || n > UINT_MAX) {
          throw bad(position, arg, `"${value}" is not an integer between ${INT_MIN} and ${UINT_MAX}`);
        }
        return n === 0 ? 0 : n;
      }
      case 'd':
      case 'f': {
        const n = DOUBLE_RE.test(value) ? Number(value) : NaN;
        if (!Number.isFinite(n)) throw bad(position, arg, `"${value}" is not a number`);
        return n;
      }
      case 'j':
        try {
          return JSON.parse(value) as unknown;
        } catch (e) {
          throw bad(position, arg, `not valid JSON (${(e as Error).message})`);
        }
    }
  }
  if (INT_RE.test(arg)) {
    const n = Number(arg);
    if (n >= INT_MIN && n <= INT_MAX) return n === 0 ? 0 : n; // normalise -0
  }
  return arg;
}

function bad(position: number, arg: string, why: string): RpcError {
  return new RpcError('RPC_BAD_PARAM', `parameter ${position} (${arg.length > 40 ? arg.slice(0, 40) + '…' : arg}): ${why}`, {
    hint: 'prefix parameters with i: (integer), s: (string), d: (double) or j: (JSON)',
    details: { position },
  });
}
