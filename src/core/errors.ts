/**
 * Errors carry a stable machine code, an exit category and (where useful) a next step.
 * The CLI maps the category to an exit code in one place (src/cli/exit-codes.ts);
 * library code never calls process.exit.
 */
export type ErrorCategory =
  | 'usage'        // bad input: flags, arguments, validation
  | 'not-found'    // the thing asked for does not exist
  | 'conflict'     // already exists / would clash
  | 'connection'   // database or proxy unreachable
  | 'timeout'      // no answer in time
  | 'remote'       // the proxy answered with an error (JSON-RPC error object)
  | 'protocol'     // a reply we could not understand (HTTP error, malformed JSON)
  | 'schema'       // the database schema is missing or of an unknown version
  | 'config'       // configuration unusable (e.g. insecure file mode)
  | 'internal';

/** Exit codes by category, documented in README and sipctl(8) (src/cli/exit-codes.ts has the texts). */
export const EXIT_CODES: Record<ErrorCategory | 'ok', number> = {
  ok: 0,
  internal: 1,
  usage: 2,
  'not-found': 3,
  conflict: 4,
  connection: 5,
  remote: 6,
  timeout: 7,
  protocol: 8,
  schema: 9,
  config: 10,
};

export class SipctlError extends Error {
  // Each error class names itself: the CLI bundle is minified without esbuild's keepNames (its
  // __name() call for every function cost ~2 ms of each command's start-up, issue 15), so a class's
  // own name there is a minified one. new.target.name is for subclasses written elsewhere.
  override name = 'SipctlError';
  readonly code: string;
  readonly category: ErrorCategory;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, opts: { category?: ErrorCategory; hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    if (new.target !== SipctlError) this.name = new.target.name;
    this.code = code;
    this.category = opts.category ?? 'internal';
    this.hint = opts.hint;
    this.details = opts.details;
  }

  /** The process exit code sipctl uses for this error (EXIT_CODES, documented in sipctl(8)). */
  get exitCode(): number {
    return EXIT_CODES[this.category];
  }
}

export class UsageError extends SipctlError {
  override name = 'UsageError';
  constructor(code: string, message: string, hint?: string, details?: Record<string, unknown>) {
    super(code, message, { category: 'usage', hint, details });
  }
}

/** A value failed validation; `field` names it (and `line` for bulk input). */
export class ValidationError extends SipctlError {
  override name = 'ValidationError';
  readonly field: string;
  constructor(field: string, message: string, hint?: string) {
    super('INVALID_' + field.toUpperCase().replace(/[^A-Z0-9]+/g, '_'), `${field}: ${message}`, { category: 'usage', hint, details: { field } });
    this.field = field;
  }
}

export class NotFoundError extends SipctlError {
  override name = 'NotFoundError';
  constructor(code: string, message: string, hint?: string) {
    super(code, message, { category: 'not-found', hint });
  }
}

export class ConflictError extends SipctlError {
  override name = 'ConflictError';
  constructor(code: string, message: string, hint?: string) {
    super(code, message, { category: 'conflict', hint });
  }
}

export class ConnectionError extends SipctlError {
  override name = 'ConnectionError';
  constructor(code: string, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(code, message, { category: 'connection', ...opts });
  }
}

export class SchemaError extends SipctlError {
  override name = 'SchemaError';
  constructor(code: string, message: string, hint?: string) {
    super(code, message, { category: 'schema', hint });
  }
}

export class ConfigError extends SipctlError {
  override name = 'ConfigError';
  constructor(code: string, message: string, hint?: string) {
    super(code, message, { category: 'config', hint });
  }
}

export function isSipctlError(e: unknown): e is SipctlError {
  return e instanceof SipctlError;
}
