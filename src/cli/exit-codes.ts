/** Exit codes, documented in README and sipctl(8): the table lives with the errors (core/errors.ts), the texts here. Keep both and the docs in step. */
export { EXIT_CODES } from '../core/errors.js';

export const EXIT_CODE_DOCS: Array<[number, string]> = [
  [0, 'success (also: a query that found nothing)'],
  [1, 'internal error (a bug: run again with --debug and report it)'],
  [2, 'usage error: bad flag, argument or value (nothing was changed)'],
  [3, 'not found: the subscriber, address, record or key does not exist'],
  [4, 'conflict: it already exists, or the change would clash with existing data'],
  [5, 'connection failure: database or proxy unreachable'],
  [6, 'the proxy answered with an error (JSON-RPC error object)'],
  [7, 'timeout: no answer within --timeout'],
  [8, 'protocol error: a reply that could not be understood (HTTP error, malformed JSON)'],
  [9, 'schema error: tables missing or of a version sipctl does not know (run `sipctl db init` / `sipctl db status`)'],
  [10, 'configuration error: e.g. a config file with a password that others can read'],
];
