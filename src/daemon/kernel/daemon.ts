/**
 * The daemon's lifecycle: modules → state → SIP transports → RPC listeners at start; the reverse
 * at stop; configuration-derived tables rebuilt on reload (SIGHUP). main.ts decides which
 * modules run and wires signals; this class holds the order and the bookkeeping.
 *
 * Start: the state directory is locked with a pid file (a second sipd on the same directory would
 * overwrite the first one's state), modules are initialised, saved state is restored, sockets are
 * bound (messages arriving before every socket is bound are dropped), and a runtime file records
 * what was bound (ports resolved when 0 was asked for) for `sipctl daemon status`.
 *
 * Stop: stop taking requests (sockets and RPC closed), let REGISTERs in flight finish (bounded),
 * save state, destroy modules, close the database, remove the pid and runtime files.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../../core/db/database.js';
import { PID_FILE, RUNTIME_FILE, pidAlive, type RuntimeInfo } from '../../core/daemon/files.js';
import { ConfigError, ConflictError } from '../../core/errors.js';
import { clampedSettings, type DbSettings, type SipdConfig } from '../config/sipd-config.js';
import { createCoreModule } from '../modules/core/core-module.js';
import { DEFAULT_HTABLES, makeDefinition, type HtableDefinition } from '../modules/htable/htable.js';
import { createHtableModule, type HtableModuleApi } from '../modules/htable/htable-module.js';
import { listenTcp, type TcpCloseReason } from '../transport/tcp.js';
import { listenTls, loadTlsCredentials, type TlsTransport } from '../transport/tls.js';
import { cnMustMatchFromUser } from '../transport/tls-policy.js';
import { formatListen, parseListen, type SipTransport } from '../transport/transport.js';
import { listenUdp, type UdpRelay } from '../transport/udp.js';
import type { AlertsApi, AuthApi, Endpoint, PermissionsApi, SecurityEvent, SipSocket } from './contracts.js';
import type { PikeApi } from '../modules/pike/pike-module.js';
import type { AccApi } from '../modules/acc/acc-module.js';
import type { PrometheusApi } from '../modules/prometheus/prometheus-module.js';
import { errorFields, type KernelLogger } from './logger.js';
import type { ParamSpecs, SipdModule } from './module.js';
import { ModuleRegistry } from './module-registry.js';
import { Myself } from './myself.js';
import { Pipeline } from './pipeline.js';
import { parseRpcListen, startRpcListener, type RpcListener } from './rpc-listeners.js';
import { RpcDispatcher } from './rpc-server.js';
import { SecurityLog } from './security-log.js';
import { StateStore, writeFileAtomic } from './state-store.js';

export { PID_FILE, RUNTIME_FILE, type RuntimeInfo };

export interface DaemonOptions {
  config: SipdConfig;
  configFile?: string;
  db: DbSettings;
  log: KernelLogger;
  version: string;
  /** the modules after core and htable, in registration order */
  modules: Array<SipdModule<ParamSpecs, unknown>>;
  /** read the configuration again (SIGHUP); default: keep the current one */
  reloadConfig?: () => SipdConfig;
  openDatabase(url: string, password?: string): Promise<Database>;
  now?: () => number;
  /**
   * sipd --workers: this worker's response relay (workers.ts); each UDP listen address (bound with
   * reusePort) binds a private port with it too (transport/udp.ts, UdpOptions.egress)
   */
  workerRelay?: UdpRelay;
}

/** The htable definitions: defaults, with the configured ones over them. */
export function htableDefinitions(cfg: SipdConfig): HtableDefinition[] {
  const merged: Record<string, Record<string, unknown>> = { ...DEFAULT_HTABLES, ...cfg.htables };
  const out: HtableDefinition[] = [];
  for (const [name, attrs] of Object.entries(merged)) {
    try {
      out.push(makeDefinition(name, attrs));
    } catch (e) {
      throw new ConfigError('CONFIG_BAD_VALUE', `htables: ${(e as Error).message}`);
    }
  }
  return out;
}

function moduleParams(cfg: SipdConfig): Map<string, Record<string, unknown>> {
  return new Map(Object.entries(cfg.modules));
}

export class Daemon {
  readonly registry = new ModuleRegistry();
  readonly security: SecurityLog;
  readonly pipeline: Pipeline;
  readonly startedAt: number;
  private config: SipdConfig;
  private myself: Myself;
  private transports: SipTransport[] = [];
  /** what CoreApi.sipSockets returns: set once every socket is bound, emptied at shutdown */
  private sockets: readonly SipSocket[] = [];
  /** CoreApi.onSipSocketsBound's listeners, called once `sockets` is set at start */
  private readonly socketsBound: Array<() => void> = [];
  private rpcListeners: RpcListener[] = [];
  private store: StateStore | undefined;
  private sharedDb: Promise<Database> | undefined;
  private housekeeping: NodeJS.Timeout | undefined;
  private ready = false;
  private stopping: Promise<void> | undefined;
  private lockedPidFile: string | undefined;
  private runtime: RuntimeInfo | undefined;
  private readonly htable: ReturnType<typeof createHtableModule>;
  private readonly now: () => number;

  constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    const log = opts.log;
    this.security = new SecurityLog(log.child({ module: 'security' }), { now: this.now, maxTracked: this.config.limits.securityLogSources });
    this.myself = new Myself([], this.config.domain);
    this.registry.register(
      createCoreModule({
        version: opts.version,
        startedAt: this.startedAt,
        now: this.now,
        stateDir: this.config.stateDir,
        database: () => this.database(),
        securityEvent: (ev) => this.securityEvent(ev),
        isMyself: (h, p) => this.myself.isMyself(h, p),
        domains: () => this.config.domain,
        sipSockets: () => this.sockets,
        onSipSocketsBound: (l) => void this.socketsBound.push(l),
      }),
    );
    this.htable = createHtableModule({ definitions: htableDefinitions(this.config) });
    this.registry.register(this.htable);
    for (const m of opts.modules) this.registry.register(m);
    this.pipeline = new Pipeline({
      registry: this.registry,
      myself: { isMyself: (h, p) => this.myself.isMyself(h, p) },
      log: log.child({ module: 'pipeline' }),
      security: (ev) => this.securityEvent(ev),
      parser: this.config.sip,
      server: `sipd ${opts.version}`,
      now: this.now,
      maxInFlight: this.config.limits.requestsInFlight,
      replyCacheEntries: this.config.limits.replyCacheEntries,
      ...(this.config.tls.cnMustMatchFromUser ? { certificatePolicy: cnMustMatchFromUser((ev) => this.securityEvent(ev)) } : {}),
    });
  }

  /**
   * One security event: logged (bounded, security-log.ts) and handed to the alerts module, which
   * turns those that are alerts (flood ban, lockouts, scanner) into one alert per key and window.
   */
  securityEvent(ev: SecurityEvent): void {
    this.security.emit(ev);
    this.registry.api<AlertsApi>('alerts')?.fromSecurityEvent(ev);
  }

  /** The shared database (opened on first use). */
  database(): Promise<Database> {
    this.sharedDb ??= this.opts.openDatabase(this.opts.db.url, this.opts.db.password).catch((e: unknown) => {
      this.sharedDb = undefined;
      throw e;
    });
    return this.sharedDb;
  }

  private lockStateDir(): void {
    const dir = this.config.stateDir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, PID_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        this.lockedPidFile = path;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const other = Number(readFileSync(path, 'utf8').trim());
        if (Number.isSafeInteger(other) && other > 0 && other !== process.pid && pidAlive(other)) {
          throw new ConflictError('SIPD_RUNNING', `another sipd (pid ${other}) uses state directory ${dir}`, 'stop it first (sipctl daemon stop), or give this one its own --state-dir');
        }
        rmSync(path, { force: true }); // stale: its process is gone
      }
    }
    throw new ConflictError('SIPD_RUNNING', `cannot lock state directory ${dir}`);
  }

  async start(): Promise<RuntimeInfo> {
    const log = this.opts.log;
    const cfg = this.config;
    // Parse every address before touching anything, so a typo fails fast.
    const listen = cfg.listen.map((l) => (cfg.reusePort === true ? { ...parseListen(l), reusePort: true } : parseListen(l)));
    const rpc = cfg.rpcListen.map(parseRpcListen);
    this.lockStateDir();
    try {
      await this.registry.initAll({ params: moduleParams(cfg), log, logFor: (m) => log.child({ module: m }), now: this.now });
      this.store = new StateStore(cfg.stateDir, log.child({ module: 'state' }));
      for (const [name, st] of this.registry.persistentStates()) this.store.add(name, st);
      this.store.loadAll();
      this.store.start(cfg.stateSaveIntervalSec * 1000);

      const handler = (m: Parameters<Pipeline['handle']>[0]) => {
        if (this.ready) this.pipeline.handle(m);
      };
      const bound: Endpoint[] = [];
      const tlsCredentials = listen.some((a) => a.transport === 'tls') ? loadTlsCredentials(cfg.tls, (msg, f) => log.warn(msg, f)) : undefined;
      for (const a of listen) {
        if (a.host === '0.0.0.0' || a.host === '::') log.warn('SIP listens on every address', { listen: formatListen(a) });
        const stream = {
          limits: {
            maxConnections: cfg.tcp.maxConnections,
            maxConnectionsPerSource: cfg.tcp.maxConnectionsPerSource,
            idleTimeoutMs: cfg.tcp.idleTimeoutSec * 1000,
            slowSenderTimeoutMs: cfg.tcp.slowSenderTimeoutSec * 1000,
            keepaliveMinIntervalMs: cfg.tcp.keepaliveMinIntervalSec * 1000,
            maxPendingWriteBytes: 256 * 1024,
          },
          parser: cfg.sip,
          log: log.child({ module: a.transport }),
          admit: (ip: string) => this.pipeline.admitConnection(ip),
          onClose: (source: Endpoint, reason: TcpCloseReason, detail?: string) => this.tcpClosed(source, reason, detail),
        };
        const t = a.transport === 'udp'
          ? await listenUdp(a, handler, { log: log.child({ module: 'udp' }), recvBufferSize: this.config.sip.udpReceiveBuffer, egress: a.reusePort === true ? this.opts.workerRelay : undefined })
          : a.transport === 'tls'
            ? await listenTls(a, handler, {
              ...stream,
              tls: {
                credentials: tlsCredentials!,
                minVersion: cfg.tls.minVersion,
                maxVersion: cfg.tls.maxVersion,
                requestClientCert: cfg.tls.cnMustMatchFromUser,
                requireClientCert: cfg.tls.requireClientCert,
                verifyClientCert: cfg.tls.verifyClientCert,
                handshakeTimeoutMs: cfg.tls.handshakeTimeoutSec * 1000,
              },
            })
            : await listenTcp(a, handler, stream);
        this.transports.push(t);
        bound.push(t.local);
        // a worker's private port (sipd --workers) is ours too: Route and Via headers name it
        if (t.socket.advertised !== t.local) bound.push(t.socket.advertised);
      }
      this.myself = new Myself(bound, cfg.domain);
      // modules send from these from now on, before anything has arrived (a BYE of a call taken over)
      this.sockets = Object.freeze(this.transports.map((t) => t.socket));
      for (const l of this.socketsBound) l();
      const dispatcher = new RpcDispatcher(this.registry, { maxBatch: cfg.rpc.maxBatch, log: log.child({ module: 'rpc' }) });
      for (const a of rpc) {
        this.rpcListeners.push(await startRpcListener(a, {
          dispatcher,
          log: log.child({ module: 'rpc' }),
          maxRequestBytes: cfg.rpc.maxRequestBytes,
          timeoutMs: cfg.rpc.timeoutSec * 1000,
          maxConnections: cfg.rpc.maxConnections,
          maxConnectionsPerSource: cfg.rpc.maxConnectionsPerSource,
          // GET /metrics (the prometheus module, when loaded)
          get: (path, authorization) => this.registry.api<PrometheusApi>('prometheus')?.handle(path, authorization, {
            securityEvents: this.security.counts,
            uptimeSec: Math.floor((this.now() - this.startedAt) / 1000),
          }),
        }));
      }
      this.registerGauges();
      this.ready = true;
      this.housekeeping = setInterval(() => this.security.flushDropped(), 1000);
      this.housekeeping.unref();
      this.runtime = {
        pid: process.pid,
        version: this.opts.version,
        startedAt: new Date(this.startedAt).toISOString(),
        listen: bound.map((e) => formatListen({ transport: e.transport, host: e.ip, port: e.port })),
        rpc: this.rpcListeners.map((l) => l.url),
        stateDir: cfg.stateDir,
        ...(this.opts.configFile !== undefined ? { configFile: this.opts.configFile } : {}),
        modules: this.registry.moduleNames(),
      };
      writeFileAtomic(join(cfg.stateDir, RUNTIME_FILE), JSON.stringify(this.runtime, null, 2) + '\n', cfg.stateDir);
      for (const line of clampedSettings(this.config)) log.warn(`configuration: ${line}`);
      log.info('sipd started', { version: this.opts.version, listen: this.runtime.listen, rpc: this.runtime.rpc, modules: this.runtime.modules, db: this.opts.db.source, myself: this.myself.list() });
      return this.runtime;
    } catch (e) {
      await this.shutdown(false).catch((cleanup: unknown) => log.error('cleanup after failed start also failed', errorFields(cleanup)));
      throw e;
    }
  }

  /**
   * The sizes of what the kernel holds per connection or per request, as `sipd:` gauges in
   * stats.get_statistics (issue 18: every structure that grows with traffic is bounded and
   * visible; modules add their own under the same group).
   */
  private registerGauges(): void {
    const stats = this.registry.api<{ gauge?(name: string, read: () => number): void }>('stats');
    if (stats === undefined || typeof stats.gauge !== 'function') return;
    const streams = (kind: 'tcp' | 'tls', what: 'total' | 'sources' | 'writers') => () => {
      let n = 0;
      for (const t of this.transports) if (t.local.transport === kind) n += (t as TlsTransport).connections()[what] ?? 0;
      return n;
    };
    stats.gauge('sipd:tcp_connections', streams('tcp', 'total'));
    stats.gauge('sipd:tcp_sources', streams('tcp', 'sources'));
    stats.gauge('sipd:tcp_writers', streams('tcp', 'writers'));
    stats.gauge('sipd:tls_connections', streams('tls', 'total'));
    stats.gauge('sipd:tls_sources', streams('tls', 'sources'));
    stats.gauge('sipd:rpc_connections', () => this.rpcListeners.reduce((a, l) => a + (l.connections?.().total ?? 0), 0));
    stats.gauge('sipd:rpc_sources', () => this.rpcListeners.reduce((a, l) => a + (l.connections?.().sources ?? 0), 0));
    stats.gauge('sipd:reply_cache_entries', () => this.pipeline.replyCacheSize());
    stats.gauge('sipd:requests_in_flight', () => this.pipeline.counters.inFlight);
    stats.gauge('sipd:security_log_sources', () => this.security.pending());
    // modules' tables that grow with traffic, each bounded by its own parameter (see the module READMEs)
    stats.gauge('sipd:pike_sources', () => this.registry.api<PikeApi>('pike')?.sources().flood ?? 0);
    stats.gauge('sipd:pike_refusal_sources', () => this.registry.api<PikeApi>('pike')?.sources().refusals ?? 0);
    stats.gauge('sipd:htable_entries', () => (this.htable.api as HtableModuleApi).entries());
    stats.gauge('sipd:acc_queue', () => this.registry.api<AccApi>('acc')?.queued() ?? 0);
    stats.gauge('sipd:heap_used_kb', () => Math.round(process.memoryUsage().heapUsed / 1024));
    // V8's committed heap (limits.heapGrowthPercent bounds it to about heap_used × (1 + percent/100) plus the young generation)
    stats.gauge('sipd:heap_total_kb', () => Math.round(process.memoryUsage().heapTotal / 1024));
    stats.gauge('sipd:rss_kb', () => Math.round(process.memoryUsage.rss() / 1024));
  }

  private tcpClosed(source: Endpoint, reason: TcpCloseReason, detail?: string): void {
    const kind = source.transport.toUpperCase();
    this.registry.api<{ inc(name: string): void }>('stats')?.inc(`sipd:${source.transport}_closed_${reason.replace(/-/g, '_')}`);
    if (reason === 'framing-error') this.securityEvent({ event: 'parse-failed', sourceIp: source.ip, detail: `${kind} stream framing error; connection closed` });
    else if (reason === 'client-cert-missing' || reason === 'client-cert-unverified') this.securityEvent({ event: 'tls-refused', sourceIp: source.ip, detail: `${reason}${detail ? `: ${detail}` : ''}` });
    else this.opts.log.debug(`${kind} connection closed`, { source: source.ip, reason, ...(detail !== undefined ? { detail } : {}) });
  }

  /**
   * SIGHUP: read the configuration again and rebuild what derives from it — htable definitions,
   * module parameters (modules with a reload hook), the address table and credentials. Listen
   * addresses, the state directory and limits need a restart; a change to them is logged.
   */
  async reload(): Promise<void> {
    const log = this.opts.log;
    let next: SipdConfig;
    try {
      next = this.opts.reloadConfig ? this.opts.reloadConfig() : this.config;
      // Renewed certificate files are read now, so a bad one refuses the reload before anything changed.
      const tlsTransports = this.transports.filter((t): t is TlsTransport => t.local.transport === 'tls');
      const tlsCredentials = tlsTransports.length > 0 ? loadTlsCredentials(next.tls, (msg, f) => log.warn(msg, f)) : undefined;
      const defs = htableDefinitions(next);
      // Tables first (pike's reload checks its ban table exists); back again if the params are refused.
      const htables = this.htable.api as HtableModuleApi;
      const previous = htables.definitions();
      htables.define(defs);
      let result: Awaited<ReturnType<ModuleRegistry['reloadAll']>>;
      try {
        result = await this.registry.reloadAll({ params: moduleParams(next), log, logFor: (m) => log.child({ module: m }), now: this.now });
      } catch (e) {
        htables.define(previous);
        throw e;
      }
      // Modules that keep tables loaded from the database, but have no reload hook of their own.
      const tasks: Array<Promise<unknown>> = [];
      const perms = this.registry.module('permissions');
      if (perms !== undefined && typeof perms.reload !== 'function') tasks.push(this.registry.api<PermissionsApi>('permissions')!.reload());
      const auth = this.registry.module('auth-db');
      if (auth !== undefined && typeof auth.reload !== 'function') tasks.push(this.registry.api<AuthApi>('auth-db')!.reloadCredentials());
      const settled = await Promise.allSettled(tasks);
      for (const f of result.failed) log.error('module reload failed; it keeps its old tables', { module: f.module, ...errorFields(f.error) });
      for (const s of settled) if (s.status === 'rejected') log.error('table reload failed; the old table stays', errorFields(s.reason));
      const restart = (['listen', 'rpcListen', 'stateDir', 'sip', 'tcp', 'rpc', 'disableModules', 'db', 'logLevel', 'logFormat', 'stateSaveIntervalSec'] as const).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(this.config[k]));
      const tlsRestart = (['requireClientCert', 'verifyClientCert', 'cnMustMatchFromUser', 'minVersion', 'maxVersion', 'handshakeTimeoutSec'] as const).filter((k) => next.tls[k] !== this.config.tls[k]).map((k) => `tls.${k}`);
      if (restart.length + tlsRestart.length > 0) log.warn('configuration changes that need a restart were not applied', { keys: [...restart, ...tlsRestart] });
      if (tlsCredentials !== undefined) for (const t of tlsTransports) t.setCredentials(tlsCredentials);
      this.config = { ...this.config, domain: next.domain, htables: next.htables, modules: next.modules, tls: { ...this.config.tls, certFile: next.tls.certFile, keyFile: next.tls.keyFile, caFile: next.tls.caFile } };
      this.myself = new Myself(this.transports.flatMap((t) => (t.socket.advertised !== t.local ? [t.local, t.socket.advertised] : [t.local])), next.domain);
      log.info('configuration reloaded', { reloaded: result.reloaded, htables: defs.map((d) => d.name) });
    } catch (e) {
      log.error('configuration reload refused; nothing changed', errorFields(e));
    }
  }

  /** Stop taking requests, save state, release everything. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown(true);
    return this.stopping;
  }

  private async shutdown(graceful: boolean): Promise<void> {
    const log = this.opts.log;
    this.ready = false;
    this.sockets = [];
    if (this.housekeeping) clearInterval(this.housekeeping);
    await Promise.allSettled([...this.rpcListeners.map((l) => l.close()), ...this.transports.map((t) => t.close())]);
    this.rpcListeners = [];
    this.transports = [];
    if (graceful) {
      const deadline = this.now() + 5000;
      while (this.pipeline.counters.inFlight > 0 && this.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    if (this.store) {
      this.store.stop();
      if (graceful) this.store.save(true);
    }
    this.security.flushDropped();
    try {
      await this.registry.destroyAll();
    } catch (e) {
      log.error('module destroy failed', errorFields(e));
    }
    if (this.sharedDb) {
      // a failed open went to whoever asked for it; a failed close may leave a connection open on the server
      await this.sharedDb.then((db) => db.close(), () => undefined).catch((e: unknown) => log.error('closing the shared database failed', errorFields(e)));
      this.sharedDb = undefined;
    }
    if (this.runtime) rmSync(join(this.config.stateDir, RUNTIME_FILE), { force: true });
    if (this.lockedPidFile) rmSync(this.lockedPidFile, { force: true });
    if (graceful) log.info('sipd stopped', { uptimeSec: Math.floor((this.now() - this.startedAt) / 1000) });
  }
}
