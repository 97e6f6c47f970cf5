/**
 * The set of loaded modules and the one RPC method table built from them. The kernel's RPC
 * server looks methods up here and answers `system.listMethods` / `system.methodHelp` from it.
 *
 * Every lookup by a name that came from outside goes through a Map: "__proto__", "constructor"
 * or "toString" are simply unknown, never an inherited property of some object.
 */
import { ConflictError, UsageError } from '../../core/errors.js';
import { type Logger, type ModuleContext, type ParamSpecs, type RpcMethod, type RpcParams, type SipdModule, resolveParams } from './module.js';

/** "module.method" style: segments of letters, digits and "_", each starting with a letter. */
const METHOD_NAME = /^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+$/;
const MODULE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const MAX_METHOD_NAME = 128;

export interface RegisteredRpc extends RpcMethod {
  name: string;
  /** the module that registered it ("system" for the kernel's own) */
  module: string;
}

export interface InitOptions {
  /** per-module parameter values from the configuration, by module name */
  params?: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  log?: Logger;
  /** a logger per module (e.g. with a module field on every line); default: `log` */
  logFor?: (module: string) => Logger;
  now?: () => number;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Is `name` acceptable as an RPC method name? */
export function isValidMethodName(name: string): boolean {
  return typeof name === 'string' && name.length <= MAX_METHOD_NAME && METHOD_NAME.test(name);
}

export class ModuleRegistry {
  private readonly modules = new Map<string, SipdModule<ParamSpecs, unknown>>();
  private readonly methods = new Map<string, RegisteredRpc>();
  private initialised: Array<SipdModule<ParamSpecs, unknown>> = [];

  constructor() {
    this.addMethod('system', 'system.listMethods', {
      doc: 'List every RPC method this server answers',
      handler: () => this.listMethods(),
    });
    this.addMethod('system', 'system.methodHelp', {
      doc: 'One-line description of an RPC method: system.methodHelp <method>',
      handler: (params: RpcParams) => {
        const name = Array.isArray(params) ? params[0] : (params as Record<string, unknown> | undefined)?.name;
        if (typeof name !== 'string') throw new UsageError('RPC_BAD_PARAM', 'system.methodHelp: expected the method name');
        const m = this.methods.get(name);
        if (m === undefined) throw new UsageError('RPC_METHOD_NOT_FOUND', `no such method: ${JSON.stringify(name.slice(0, 64))}`);
        return m.doc;
      },
    });
  }

  /**
   * Add a module and its RPC methods. Refused (nothing registered) when the module name is taken
   * or malformed, or any method name is malformed, already registered, or given without a doc
   * and a handler.
   */
  register<S extends ParamSpecs, Api>(mod: SipdModule<S, Api>): void {
    if (typeof mod.name !== 'string' || !MODULE_NAME.test(mod.name)) {
      throw new UsageError('MODULE_NAME_INVALID', `invalid module name ${JSON.stringify(String(mod.name).slice(0, 64))}`);
    }
    if (this.modules.has(mod.name)) throw new ConflictError('MODULE_DUPLICATE', `module ${mod.name} is already registered`);
    const entries = Object.entries(mod.rpc);
    const seen = new Set<string>();
    for (const [name, m] of entries) {
      if (!isValidMethodName(name)) {
        throw new UsageError('RPC_METHOD_NAME_INVALID', `${mod.name}: invalid RPC method name ${JSON.stringify(name.slice(0, 64))}`, 'use module.method, e.g. htable.dump');
      }
      if (this.methods.has(name) || seen.has(name)) {
        const owner = this.methods.get(name)?.module ?? mod.name;
        throw new ConflictError('RPC_METHOD_DUPLICATE', `${mod.name}: RPC method ${name} is already registered by ${owner}`);
      }
      if (m === null || typeof m !== 'object' || typeof m.handler !== 'function' || typeof m.doc !== 'string' || m.doc.trim() === '') {
        throw new UsageError('RPC_METHOD_INVALID', `${mod.name}: RPC method ${name} needs a one-line doc and a handler`);
      }
      seen.add(name);
    }
    this.modules.set(mod.name, mod as unknown as SipdModule<ParamSpecs, unknown>);
    for (const [name, m] of entries) this.addMethod(mod.name, name, m);
  }

  private addMethod(module: string, name: string, m: RpcMethod): void {
    this.methods.set(name, { name, module, doc: m.doc, handler: m.handler.bind(m) });
  }

  /** The method registered under exactly this name, or undefined. */
  lookup(name: string): RegisteredRpc | undefined {
    return typeof name === 'string' ? this.methods.get(name) : undefined;
  }

  /** Every method name, sorted (system.listMethods). */
  listMethods(): string[] {
    return [...this.methods.keys()].sort();
  }

  module(name: string): SipdModule<ParamSpecs, unknown> | undefined {
    return this.modules.get(name);
  }

  /** A module's API object, for another module (through ModuleContext.api). */
  api<T = unknown>(name: string): T | undefined {
    return this.modules.get(name)?.api as T | undefined;
  }

  moduleNames(): string[] {
    return [...this.modules.keys()];
  }

  /**
   * Resolve each module's parameters and call init, in registration order. If one fails, the
   * modules already initialised are destroyed (reverse order) and the error is rethrown.
   */
  async initAll(opts: InitOptions = {}): Promise<void> {
    const log = opts.log ?? silent;
    const now = opts.now ?? Date.now;
    for (const name of opts.params?.keys() ?? []) {
      if (!this.modules.has(name)) throw new UsageError('MODULE_UNKNOWN', `parameters given for module ${JSON.stringify(name.slice(0, 64))}, which is not loaded`);
    }
    for (const mod of this.modules.values()) {
      if (this.initialised.includes(mod)) continue;
      try {
        const params = resolveParams(mod.name, mod.params, opts.params?.get(mod.name));
        const ctx: ModuleContext<typeof params> = { params, log: opts.logFor?.(mod.name) ?? log, now, api: <T>(m: string) => this.api<T>(m) };
        await mod.init(ctx);
        this.initialised.push(mod);
      } catch (e) {
        await this.destroyAll().catch((cleanup: unknown) => log.error('destroy after failed init also failed', { error: String(cleanup) }));
        throw e;
      }
    }
  }

  /**
   * SIGHUP: resolve every module's parameters again and call `reload` where a module has one.
   * All parameters are validated before any module reloads, so a typo changes nothing. A module
   * whose reload throws keeps its old tables; the others still reload. Returns the names of the
   * modules that reloaded and the errors of those that failed.
   */
  async reloadAll(opts: InitOptions = {}): Promise<{ reloaded: string[]; failed: Array<{ module: string; error: unknown }> }> {
    const log = opts.log ?? silent;
    const now = opts.now ?? Date.now;
    for (const name of opts.params?.keys() ?? []) {
      if (!this.modules.has(name)) throw new UsageError('MODULE_UNKNOWN', `parameters given for module ${JSON.stringify(name.slice(0, 64))}, which is not loaded`);
    }
    const resolved = new Map<string, ReturnType<typeof resolveParams>>();
    for (const mod of this.initialised) resolved.set(mod.name, resolveParams(mod.name, mod.params, opts.params?.get(mod.name)));
    const reloaded: string[] = [];
    const failed: Array<{ module: string; error: unknown }> = [];
    for (const mod of this.initialised) {
      if (typeof mod.reload !== 'function') continue;
      const params = resolved.get(mod.name)!;
      try {
        await mod.reload({ params, log: opts.logFor?.(mod.name) ?? log, now, api: <T>(m: string) => this.api<T>(m) });
        reloaded.push(mod.name);
      } catch (error) {
        failed.push({ module: mod.name, error });
      }
    }
    return { reloaded, failed };
  }

  /** Initialised modules that carry persistent state, by name. */
  persistentStates(): Array<[string, import('./contracts.js').PersistentState]> {
    return this.initialised.filter((m) => m.state !== undefined).map((m) => [m.name, m.state!]);
  }

  /** Destroy initialised modules in reverse order; every destroy runs even if one throws. */
  async destroyAll(): Promise<void> {
    const errors: unknown[] = [];
    const list = this.initialised;
    this.initialised = [];
    for (const mod of list.reverse()) {
      try {
        await mod.destroy();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} modules failed to destroy`);
  }
}
