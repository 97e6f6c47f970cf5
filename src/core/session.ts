/**
 * What one run of sipctl holds: the resolved configuration, the databases it opened and the proxy
 * connections (a NodeSet), all closed by close(). The oclif commands (src/cli/base-command.ts,
 * rpc-support.ts) and the library's connect() (api.ts) both build their state through this, so a
 * script and a command resolve configuration, secrets and proxy targets the same way.
 */
import { closeAll } from './close-all.js';
import { assertSecretPrivate, resolveConfig, type ConfigInputs, type ResolvedConfig } from './config/config.js';
import type { Database } from './db/database.js';
import { NodeSet } from './proxy/node-set.js';
import type { OpContext } from './proxy/ops.js';
import { resolveTargets } from './proxy/targets.js';
import { readAuthFile } from './rpc/auth-file.js';
import type { RpcAuth } from './rpc/client.js';

/**
 * Default deadline of dumps when no timeout was set. Kamailio 5.6 builds a ul.dump reply in time that
 * grows faster than the contacts (2-core machine, idle: 5,000 in 0.5 s, 20,000 in 5 s, 100,000 in
 * 320 s), and a dump it has accepted is worth waiting for; a proxy that is not there fails at once.
 */
export const DEFAULT_DUMP_TIMEOUT_MS = 600_000;
/** Default retry budget of `address reload` (Kamailio refuses reloads for reload_delta = 5 s). */
export const DEFAULT_RELOAD_BUDGET_MS = 10_000;

export interface SessionOptions {
  /** Highest-precedence values (the CLI's flags), then SIPCTL_* from `env`, the config file, kamctlrc. */
  flags?: ConfigInputs['flags'];
  env?: NodeJS.ProcessEnv;
  /** Configured node names to talk to ("all" = every node); default: the configured RPC URL(s). */
  node?: string[];
  /** A 0600 file with "user:password" or "Bearer TOKEN" for HTTP RPC auth (else config/env). */
  rpcAuthFile?: string;
  /** HTTP RPC auth given directly (library use); wins over rpcAuthFile and the configuration. */
  rpcAuth?: RpcAuth;
}

export class Session {
  private resolved?: ResolvedConfig;
  private nodes?: NodeSet;
  private readonly dbs: Database[] = [];

  constructor(private readonly opts: SessionOptions = {}) {}

  /** Configuration, resolved on first use (a command that never needs it never reads a file). */
  get cfg(): ResolvedConfig {
    if (!this.resolved) this.resolved = resolveConfig({ flags: this.opts.flags, env: this.opts.env });
    return this.resolved;
  }

  /** The environment SIPCTL_* settings come from. */
  get env(): NodeJS.ProcessEnv {
    return this.opts.env ?? process.env;
  }

  /** True once configuration was resolved (warnings about it are due only then). */
  get configResolved(): boolean {
    return this.resolved !== undefined;
  }

  /** A new connection to the configured database, closed by close(). */
  async openDb(opts: { create?: boolean } = {}): Promise<Database> {
    const { openDatabase } = await import('./db/database.js');
    assertSecretPrivate(this.cfg, 'db');
    const db = await openDatabase(this.cfg.values.db, { password: this.cfg.values.dbPassword, create: opts.create });
    this.dbs.push(db);
    return db;
  }

  /** The proxies to talk to, connected lazily and kept until close(). */
  nodeSet(): NodeSet {
    if (!this.nodes) {
      const v = this.cfg.values;
      assertSecretPrivate(this.cfg, 'rpc');
      const targets = resolveTargets(this.cfg, { node: this.opts.node });
      let auth = this.opts.rpcAuth;
      if (!auth && this.opts.rpcAuthFile) auth = readAuthFile(this.opts.rpcAuthFile);
      else if (!auth && v.rpcToken) auth = { bearer: v.rpcToken };
      else if (!auth && v.rpcUser) auth = { user: v.rpcUser, password: v.rpcPassword ?? '' };
      this.nodes = new NodeSet(targets, { timeoutMs: v.timeoutMs, auth, caFile: v.rpcCaFile, fifoReplyDir: v.rpcFifoReplyDir });
    }
    return this.nodes;
  }

  /**
   * Someone chose the proxies of this run (--node, --rpc, SIPCTL_RPC, "rpc"/"nodes" in a config
   * file) rather than sipctl falling back to the built-in default URL.
   */
  get proxiesChosen(): boolean {
    if ((this.opts.node ?? []).length > 0) return true;
    const s = this.cfg.sources;
    return s.rpc?.source !== 'default' || (s.nodes !== undefined && s.nodes.source !== 'default') || Object.keys(this.cfg.values.nodes ?? {}).length > 0;
  }

  /** The timeout was chosen by someone (flag, env, config file), not the built-in default. */
  get timeoutExplicit(): boolean {
    return this.cfg.sources.timeoutMs.source !== 'default';
  }

  /** What the proxy operations (proxy/ops.ts) run with. */
  opContext(opts: { dryRun?: boolean } = {}): OpContext {
    const t = this.cfg.values.timeoutMs;
    return {
      nodes: this.nodeSet(),
      longTimeoutMs: this.timeoutExplicit ? t : Math.max(t, DEFAULT_DUMP_TIMEOUT_MS),
      reloadBudgetMs: this.timeoutExplicit ? t : Math.max(t, DEFAULT_RELOAD_BUDGET_MS),
      dryRun: opts.dryRun === true,
    };
  }

  /**
   * Closes the proxy connections and every database opened, all of them even when one fails;
   * then throws what failed (closeAll), for the caller to report.
   */
  async close(): Promise<void> {
    const nodes = this.nodes;
    this.nodes = undefined;
    const dbs = this.dbs.splice(0);
    await closeAll([...(nodes ? [() => nodes.close()] : []), ...dbs.map((d) => () => d.close())]);
  }
}
