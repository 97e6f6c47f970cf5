/**
 * The library API: `import { connect } from 'sipctl'`. The same operations the commands run —
 * subscribers, permission addresses, htable, usrloc, SIM records, any RPC method — over the same
 * core functions, configuration and Session (src/core/session.ts), with typed results and the
 * same errors (SipctlError: code, category, exitCode).
 *
 * Proxy operations return the value of the one proxy they talk to. With several proxies (`rpc` or
 * `node` naming more than one), use `ops` with `opContext()` for per-node outcomes, as `batch` does.
 */
import type { ConfigValues, ResolvedConfig } from './config/config.js';
import type { Database } from './db/database.js';
import { UsageError } from './errors.js';
import { addAddress, listAddresses, removeAddress, type AddressChange, type AddressInput, type AddressRow } from './address/addresses.js';
import type { NodeOutcome } from './proxy/node-set.js';
import { ops, type OpContext, type OpResult } from './proxy/ops.js';
import type { HtableChange, HtableItem, UnbanResult } from './proxy/htable.js';
import type { LoadedAddress, ReloadResult } from './proxy/permissions.js';
import type { UlDump, UlLookup, UlRemoval } from './proxy/ul.js';
import type { HtableInfo, HtableRow } from './rpc/methods.js';
import type { RpcAuth } from './rpc/client.js';
import { Session } from './session.js';
import type { AddSimInput, AddSimResult, SimView } from './sim/sim-records.js';
import { splitAor } from './subscribers/identity.js';
import { committed, reloadSessionCredentials } from './subscribers/credential-reload.js';
import { addSubscriber, changePassword, getSubscriber, listSubscribers, removeSubscriber, type ListOptions, type SubscriberChange, type SubscriberView } from './subscribers/subscribers.js';

export interface ConnectOptions {
  /** Database URL: mysql://user@host:port/db or sqlite:///path.db (else SIPCTL_DB, the config file). */
  db?: string;
  /** Database password, kept apart from the URL (else SIPCTL_DB_PASSWORD, the config file). */
  dbPassword?: string;
  /** Default SIP domain for users given without @domain. */
  domain?: string;
  /** Proxy JSON-RPC endpoint(s): http(s)://host:port/RPC, unix:/path, fifo:/path. */
  rpc?: string | string[];
  /** Configured node name(s) to talk to ("all": every node of the config file). */
  node?: string | string[];
  /** Per-call RPC timeout in milliseconds. */
  timeoutMs?: number;
  /** HTTP RPC auth; else rpcAuthFile, else SIPCTL_RPC_USER/PASSWORD/TOKEN or the config file. */
  rpcAuth?: RpcAuth;
  rpcAuthFile?: string;
  rpcCaFile?: string;
  hash?: ConfigValues['hash'];
  storePlaintext?: boolean;
  /** Config file (default: $XDG_CONFIG_HOME/sipctl/config.json, then /etc/sipctl/config.json). */
  config?: string;
  kamctlrc?: string;
  /** Environment for SIPCTL_* settings, as the CLI reads them (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

const list = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/**
 * Resolves configuration (options > SIPCTL_* > config file > kamctlrc > defaults, as the CLI does)
 * and returns a handle. Nothing is connected yet: the database opens on the first subscriber,
 * address or SIM call, the proxies on the first proxy call. Call close() when done.
 */
export async function connect(opts: ConnectOptions = {}): Promise<Sipctl> {
  const session = new Session({
    flags: {
      config: opts.config,
      kamctlrc: opts.kamctlrc,
      db: opts.db,
      dbPassword: opts.dbPassword,
      domain: opts.domain,
      rpc: list(opts.rpc),
      timeoutMs: opts.timeoutMs,
      rpcCaFile: opts.rpcCaFile,
      hash: opts.hash,
      storePlaintext: opts.storePlaintext,
    },
    env: opts.env,
    node: list(opts.node),
    rpcAuth: opts.rpcAuth,
    rpcAuthFile: opts.rpcAuthFile,
  });
  void session.cfg; // a bad config file or value fails here, not at the first call
  return new Sipctl(session);
}

/** The one proxy's value, or its error (a SipctlError with code, category and exitCode). */
function single<T>(r: OpResult<T>): T {
  if (r.outcomes.length !== 1) {
    throw new UsageError('API_SEVERAL_NODES', `${r.command} ran on ${r.outcomes.length} proxies`, 'use ops.* with opContext() for per-node outcomes');
  }
  const o = r.outcomes[0] as NodeOutcome<T>;
  if (!o.ok) throw o.error;
  return o.value;
}

export interface WriteOptions {
  /** Check and report what would change; change nothing (the CLI's --dry-run). */
  dryRun?: boolean;
}

export class Sipctl {
  private dbPromise?: Promise<Database>;

  /** @internal use connect() */
  constructor(private readonly session: Session) {}

  /** The resolved configuration and where each value came from (secrets included: do not log it). */
  get config(): ResolvedConfig {
    return this.session.cfg;
  }

  /** The database connection (opened once, on first use). */
  db(): Promise<Database> {
    this.dbPromise ??= this.session.openDb();
    return this.dbPromise;
  }

  /** Context for `ops.*` (per-node OpResults, as `sipctl batch` uses them). */
  opContext(opts: WriteOptions = {}): OpContext {
    return this.session.opContext(opts);
  }

  private aor(aor: string) {
    return splitAor(aor, this.session.cfg.values.domain);
  }

  private credentials(o: { allowWeak?: boolean; dryRun?: boolean }) {
    const cfg = this.session.cfg;
    return { hash: cfg.values.hash, storePlaintext: cfg.sources.storePlaintext.source === 'default' ? undefined : cfg.values.storePlaintext, allowWeak: o.allowWeak, dryRun: o.dryRun };
  }

  /**
   * A committed subscriber change is live on sipd at once: auth.reloadCredentials on the proxies
   * (core/subscribers/credential-reload.ts); one that could not be reloaded is a warning in the result.
   */
  private async live<T extends { dryRun?: boolean; warnings?: string[] }>(change: T): Promise<T> {
    if (!committed(change)) return change;
    const warnings = await reloadSessionCredentials(this.session);
    return warnings.length ? { ...change, warnings: [...(change.warnings ?? []), ...warnings] } : change;
  }

  /** Subscribers (subscriber table): `sipctl add|passwd|rm|show`. After add/passwd/remove sipd reloads its credentials. */
  readonly subscribers = {
    add: async (aor: string, password: string, o: WriteOptions & { allowWeak?: boolean } = {}): Promise<SubscriberChange> => {
      const { username, domain } = this.aor(aor);
      return this.live(await addSubscriber(await this.db(), username, domain, password, this.credentials(o)));
    },
    passwd: async (aor: string, password: string, o: WriteOptions & { allowWeak?: boolean } = {}): Promise<SubscriberChange> => {
      const { username, domain } = this.aor(aor);
      return this.live(await changePassword(await this.db(), username, domain, password, this.credentials(o)));
    },
    remove: async (aor: string, o: WriteOptions = {}): Promise<SubscriberChange> => {
      const { username, domain } = this.aor(aor);
      return this.live(await removeSubscriber(await this.db(), username, domain, o));
    },
    /** One subscriber; NotFoundError (SUBSCRIBER_NOT_FOUND, exit code 3) when there is none. */
    get: async (aor: string, o: { reveal?: boolean } = {}): Promise<SubscriberView> => {
      const { username, domain } = this.aor(aor);
      return getSubscriber(await this.db(), username, domain, o.reveal);
    },
    list: async (o: ListOptions = {}): Promise<{ total: number; subscribers: SubscriberView[] }> => listSubscribers(await this.db(), o),
  };

  /** Permission address groups: the address table, and what the proxy has loaded. */
  readonly addresses = {
    list: async (o: { group?: string | number } = {}): Promise<AddressRow[]> => listAddresses(await this.db(), o),
    add: async (input: AddressInput, o: WriteOptions = {}): Promise<AddressChange> => addAddress(await this.db(), input, o),
    remove: async (group: string | number, ip: string, o: WriteOptions & { mask?: string | number; port?: string | number } = {}): Promise<AddressChange> =>
      removeAddress(await this.db(), group, ip, o),
    /** permissions.addressDump on the proxy. */
    loaded: async (): Promise<LoadedAddress[]> => single(await ops.addressDump(this.opContext())),
    /** permissions.addressReload, retried while the proxy says a reload is under way. */
    reload: async (o: WriteOptions = {}): Promise<ReloadResult> => single(await ops.addressReload(this.opContext(o))),
  };

  /** The proxy's hash tables (htable module). */
  readonly htable = {
    list: async (): Promise<HtableInfo[]> => single(await ops.htableList(this.opContext())),
    dump: async (table: string, o: { filter?: string } = {}): Promise<HtableRow[]> => single(await ops.htableDump(this.opContext(), table, o.filter)),
    get: async (table: string, key: string): Promise<HtableItem> => single(await ops.htableGet(this.opContext(), table, key)),
    sets: async (table: string, key: string, value: string, o: WriteOptions = {}): Promise<HtableChange> => single(await ops.htableSets(this.opContext(o), table, key, value)),
    seti: async (table: string, key: string, value: number | string, o: WriteOptions = {}): Promise<HtableChange> =>
      single(await ops.htableSeti(this.opContext(o), table, key, String(value))),
    delete: async (table: string, key: string, o: WriteOptions = {}): Promise<HtableChange> => single(await ops.htableDelete(this.opContext(o), table, key)),
    flush: async (table: string, o: WriteOptions = {}): Promise<HtableChange> => single(await ops.htableFlush(this.opContext(o), table)),
    reload: async (table: string, o: WriteOptions = {}): Promise<HtableChange> => single(await ops.htableReload(this.opContext(o), table)),
    /** Remove an address from every ban table (`sipctl unban`). */
    unban: async (ip: string, o: WriteOptions = {}): Promise<UnbanResult> => single(await ops.unban(this.opContext(o), ip)),
  };

  /** Registrations the proxy holds (usrloc). */
  readonly ul = {
    dump: async (o: { filter?: string; table?: string } = {}): Promise<UlDump> => single(await ops.ulDump(this.opContext(), { ...o, want: 'rows' })),
    /** One AoR's contacts; NotFoundError (AOR_NOT_FOUND) when it is not registered. */
    show: async (aor: string, o: { table?: string } = {}): Promise<UlLookup> => single(await ops.ulShow(this.opContext(), aor, o.table)),
    remove: async (aor: string, o: WriteOptions & { table?: string } = {}): Promise<UlRemoval> => single(await ops.ulRm(this.opContext(o), aor, o.table)),
  };

  /** SIM records (sim table). Keys at rest use the configured KEK (SIPCTL_SIM_KEK / simKekFile), as the CLI does. */
  readonly sim = {
    add: async (input: AddSimInput, o: WriteOptions & { reveal?: boolean } = {}): Promise<AddSimResult> => {
      const { addSim } = await import('./sim/sim-records.js');
      const kek = await this.kek();
      try {
        return await addSim(await this.db(), input, { ...o, kek });
      } finally {
        kek?.wipe();
      }
    },
    get: async (imsi: string, o: { reveal?: boolean } = {}): Promise<SimView> => {
      const { getSim } = await import('./sim/sim-records.js');
      const kek = o.reveal ? await this.kek() : undefined;
      try {
        return await getSim(await this.db(), imsi, { ...o, kek });
      } finally {
        kek?.wipe();
      }
    },
    list: async (o: { batch?: string; imsiPrefix?: string; limit?: number; offset?: number } = {}): Promise<{ total: number; sims: SimView[] }> => {
      const { listSims } = await import('./sim/sim-records.js');
      return listSims(await this.db(), o);
    },
  };

  private async kek() {
    const { resolveKek } = await import('./sim/kek.js');
    const env = this.sessionEnv();
    return resolveKek({ hex: env.SIPCTL_SIM_KEK, file: this.session.cfg.values.simKekFile });
  }

  private sessionEnv(): NodeJS.ProcessEnv {
    return this.session.env;
  }

  /** Any JSON-RPC method by name, like kamcmd (`sipctl rpc`). */
  async rpc(method: string, ...params: unknown[]): Promise<unknown> {
    return single(await ops.raw(this.opContext(), method, params));
  }

  /**
   * Closes the database and proxy connections, all of them even when one fails; then rejects with
   * what failed (a reply FIFO that could not be removed, a database that did not close cleanly).
   */
  async close(): Promise<void> {
    this.dbPromise = undefined;
    await this.session.close();
  }
}
