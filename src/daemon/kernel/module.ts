/**
 * The sipd module interface: the TypeScript form of Kamailio's `module_exports` (name, typed
 * parameters with defaults, init / destroy, RPC table, and the API object other modules call).
 *
 * A module owns its state, timers and RPC table (ARCHITECTURE.md, habit 8); other modules reach
 * it only through `api`. RPC handlers know nothing of transports (habit 9): they take the
 * JSON-RPC params and return a result or throw.
 */
import { ConfigError } from '../../core/errors.js';
import { invalidParams } from './rpc-fault.js';

/** One module parameter (Kamailio `modparam`), with its default and a one-line doc. */
export type ParamSpec =
  | { type: 'string'; default: string; doc: string; choices?: readonly string[] }
  | { type: 'integer'; default: number; doc: string; min?: number; max?: number }
  | { type: 'boolean'; default: boolean; doc: string };

export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

/** The resolved parameter values of a module, typed from its specs. */
export type ParamValues<S extends ParamSpecs> = {
  readonly [K in keyof S]: S[K] extends { type: 'integer' } ? number : S[K] extends { type: 'boolean' } ? boolean : string;
};

/** JSON-RPC params as they arrive: positional, named, or none. */
export type RpcParams = readonly unknown[] | Readonly<Record<string, unknown>> | undefined;

/**
 * An RPC method's params as a list, as Kamailio reads them (positionally). Named params are
 * taken in the order of `names` when the method gives them (Kamailio accepts
 * `{"htable": …, "key": …}`; an unknown name is refused rather than ignored, a missing one ends
 * the list), else in the order they were written.
 */
export function rpcArgs(p: RpcParams, names?: readonly string[]): unknown[] {
  if (p === undefined) return [];
  if (Array.isArray(p)) return [...(p as readonly unknown[])];
  const obj = p as Readonly<Record<string, unknown>>;
  if (names === undefined) return Object.values(obj);
  for (const k of Object.keys(obj)) if (!names.includes(k)) throw invalidParams(`unknown parameter ${JSON.stringify(k.slice(0, 32))}; expected ${names.join(', ')}`);
  const out: unknown[] = [];
  for (const n of names) {
    if (!Object.prototype.hasOwnProperty.call(obj, n)) break;
    out.push(obj[n]);
  }
  return out;
}

export interface RpcMethod {
  /** one line, shown by system.methodHelp */
  doc: string;
  handler(params: RpcParams): unknown;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What the kernel hands a module at init. No environment, no globals: everything comes from here. */
export interface ModuleContext<P> {
  params: P;
  log: Logger;
  /** wall clock in milliseconds (injectable for tests) */
  now(): number;
  /** another module's API object, by module name; undefined if that module is not loaded */
  api<T = unknown>(module: string): T | undefined;
}

export interface SipdModule<S extends ParamSpecs = ParamSpecs, Api = unknown> {
  /** lower-case, e.g. "sanity", "auth-db"; unique in a registry */
  readonly name: string;
  readonly params: S;
  init(ctx: ModuleContext<ParamValues<S>>): void | Promise<void>;
  destroy(): void | Promise<void>;
  /** RPC methods by full name ("htable.dump", "sanity.stats"); Kamailio's names kept exactly */
  readonly rpc: Readonly<Record<string, RpcMethod>>;
  /** the functions other modules call (usrloc's API struct, in Kamailio terms) */
  readonly api?: Api;
  /**
   * SIGHUP: the configuration was read again; `ctx.params` holds the new, validated values.
   * Build the new tables and swap them in (habit 8); on error keep the old ones and throw.
   * Modules without it keep their parameters until restart.
   */
  reload?(ctx: ModuleContext<ParamValues<S>>): void | Promise<void>;
  /** state the kernel persists across restarts (see PersistentState in contracts.ts) */
  readonly state?: import('./contracts.js').PersistentState;
}

/** Identity function that lets TypeScript infer a module's parameter and API types. */
export function defineModule<S extends ParamSpecs, Api = unknown>(m: SipdModule<S, Api>): SipdModule<S, Api> {
  return m;
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

function invalid(module: string, name: string, why: string): ConfigError {
  return new ConfigError('MODULE_PARAM_INVALID', `${module}.${name}: ${why}`, `see the parameter list of module ${module}`);
}

/**
 * The module's parameter values: defaults, overridden by `given` (from the config file; numbers
 * and booleans may arrive as strings). An unknown name or a value of the wrong type is a
 * ConfigError: a typo in a security setting must not silently fall back to its default.
 */
export function resolveParams<S extends ParamSpecs>(module: string, specs: S, given: Readonly<Record<string, unknown>> = {}): ParamValues<S> {
  const table = new Map<string, ParamSpec>(Object.entries(specs));
  const out = new Map<string, string | number | boolean>();
  for (const [name, spec] of table) out.set(name, spec.default);
  for (const [name, raw] of Object.entries(given)) {
    const spec = table.get(name);
    if (spec === undefined) {
      throw new ConfigError('MODULE_PARAM_UNKNOWN', `${module}: unknown parameter ${JSON.stringify(name.slice(0, 64))}`, `known: ${[...table.keys()].join(', ') || '(none)'}`);
    }
    out.set(name, coerce(module, name, spec, raw));
  }
  return Object.freeze(Object.fromEntries(out)) as ParamValues<S>;
}

function coerce(module: string, name: string, spec: ParamSpec, raw: unknown): string | number | boolean {
  switch (spec.type) {
    case 'string': {
      if (typeof raw !== 'string') throw invalid(module, name, `expected a string, got ${typeof raw}`);
      if (spec.choices && !spec.choices.includes(raw)) throw invalid(module, name, `expected one of ${spec.choices.join(', ')}`);
      return raw;
    }
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?[0-9]{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (!Number.isSafeInteger(n)) throw invalid(module, name, 'expected an integer');
      if (spec.min !== undefined && n < spec.min) throw invalid(module, name, `must be at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw invalid(module, name, `must be at most ${spec.max}`);
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const w = typeof raw === 'number' || typeof raw === 'string' ? String(raw).trim().toLowerCase() : '';
      if (TRUE_WORDS.has(w)) return true;
      if (FALSE_WORDS.has(w)) return false;
      throw invalid(module, name, 'expected a boolean (true/false, yes/no, 1/0)');
    }
  }
}
