/**
 * sipd's entry point — wiring only: command line → configuration → modules → Daemon (which binds
 * transports and the RPC server) → signals.
 *
 *   SIGTERM / SIGINT  stop taking requests, save state, exit 0
 *   SIGHUP            read the configuration again and rebuild the tables derived from it
 *
 * Runs in the foreground; `sipctl daemon start` runs it in the background with its output in a
 * log file.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EXIT_CODES } from '../cli/exit-codes.js';
import { openDatabase } from '../core/db/database.js';
import { isSipctlError } from '../core/errors.js';
import { CONFIG_KEYS, loadSipdConfig, resolveDb, type SipdConfig, type SipdFlags } from './config/sipd-config.js';
import { Daemon } from './kernel/daemon.js';
import { applyHeapLimits } from './kernel/heap.js';
import { chooseFormat, createLogger, errorFields, type KernelLogger } from './kernel/logger.js';
import type { ParamSpecs, SipdModule } from './kernel/module.js';
import { createAlertsModule } from './modules/alerts/alerts-module.js';
import { createPrometheusModule } from './modules/prometheus/prometheus-module.js';
import { createClusterModule } from './modules/cluster/cluster-module.js';
import { createMaxfwdModule } from './modules/maxfwd/maxfwd-module.js';
import { createPikeModule } from './modules/pike/pike-module.js';
import { createSanityModule } from './modules/sanity/sanity-module.js';
import { createScannerModule } from './modules/scanner/scanner-module.js';
import { WORKER_ENV, WORKER_GROUP_ENV, WORKER_READY, WorkerRelay, checkListenFree, checkWorkers, defaultNodeId, runWorkers, workerConfig } from './workers.js';

type AnyModule = SipdModule<ParamSpecs, unknown>;
type ModuleDeps = { db: () => ReturnType<typeof openDatabase> };

/**
 * Modules after core and htable, in init order. The ones built elsewhere (stats, permissions,
 * usrloc, auth-db, registrar) are loaded when their file is present: their folder's
 * `<name>-module.js` exports one `create…Module(deps)` function; `deps.db` opens a database
 * connection the module owns (and closes at destroy).
 */
const MODULES: Array<{ name: string; load: (deps: ModuleDeps) => Promise<AnyModule | undefined> }> = [
  { name: 'stats', load: (d) => optional('stats', d) },
  { name: 'pv', load: (d) => optional('pv', d) },
  // alerts early: every module after it may emit (security events reach it through the kernel)
  { name: 'alerts', load: async () => createAlertsModule() as unknown as AnyModule },
  // GET /metrics on the RPC HTTP listener (Kamailio's xhttp_prom names plus sipd_*)
  { name: 'prometheus', load: async () => createPrometheusModule() as unknown as AnyModule },
  { name: 'sanity', load: async () => createSanityModule() as unknown as AnyModule },
  { name: 'maxfwd', load: async () => createMaxfwdModule() as unknown as AnyModule },
  { name: 'scanner', load: async () => createScannerModule() as unknown as AnyModule },
  { name: 'pike', load: async () => createPikeModule() as unknown as AnyModule },
  { name: 'permissions', load: (d) => optional('permissions', d) },
  // issue 13: the operator's IP blocklist (dropped before parsing) and country rules (GeoIP)
  { name: 'blocklist', load: (d) => optional('blocklist', d) },
  { name: 'country', load: (d) => optional('country', d) },
  { name: 'usrloc', load: (d) => optional('usrloc', d) },
  { name: 'auth-db', load: (d) => optional('auth-db', d) },
  { name: 'registrar', load: (d) => optional('registrar', d) },
  // call handling: identity trust, blocked prefixes, calls per second, accounting, dialogs, the proxy
  { name: 'identity', load: (d) => optional('identity', d) },
  { name: 'mtree', load: (d) => optional('mtree', d) },
  { name: 'timerule', load: (d) => optional('timerule', d) },
  // issue 13 rule 2: User-Agent allow-list per subscriber group (REGISTER and INVITE)
  { name: 'uafilter', load: (d) => optional('uafilter', d) },
  // issue 13 rule 4: rate table, spending and daily limits (the proxy admits, the dialog module ends calls at the budget)
  { name: 'limits', load: (d) => optional('limits', d) },
  { name: 'pipelimit', load: (d) => optional('pipelimit', d) },
  { name: 'acc', load: (d) => optional('acc', d) },
  { name: 'dialog', load: (d) => optional('dialog', d) },
  { name: 'proxy', load: (d) => optional('proxy', d) },
];

async function optional(name: string, deps: ModuleDeps): Promise<AnyModule | undefined> {
  const url = new URL(`./modules/${name}/${name}-module.js`, import.meta.url);
  let ns: Record<string, unknown>;
  try {
    ns = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { url?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && (err.url === url.href || err.message.includes(`${name}-module`))) return undefined;
    throw e;
  }
  const factory = Object.entries(ns).find(([k, v]) => /^create[A-Za-z]*Module$/.test(k) && typeof v === 'function')?.[1] as ((d: ModuleDeps) => AnyModule) | undefined;
  if (factory === undefined) throw new Error(`modules/${name}: no create…Module export`);
  return factory(deps);
}

const HELP = `sipd — a lean SIP proxy enforcing the Kamailio security playbook, answering Kamailio's JSON-RPC

Usage: sipd [options]          (foreground; \`sipctl daemon start\` runs it in the background)

Options:
  --config FILE          configuration file, JSON (also $SIPD_CONFIG)
  --db URL               database URL (default: sipctl's: SIPCTL_DB, sipctl config file, …)
  --listen ADDR          SIP socket, repeatable: udp:IP:PORT, tcp:IP:PORT, udp:[::1]:5060,
                         tls:IP:PORT (port 5061 by default; needs tls.certFile/tls.keyFile)
                         (default udp:127.0.0.1:5060 and tcp:127.0.0.1:5060)
  --rpc-listen URL       JSON-RPC endpoint, repeatable: http://IP:PORT/PATH, unix:/path
                         (default http://127.0.0.1:5071/RPC and unix:<state-dir>/sipd.sock)
  --domain NAME          SIP domain this proxy is, repeatable
  --state-dir DIR        state files, pid file, default unix socket (also $SIPD_STATE_DIR;
                         default $XDG_STATE_HOME/sipd or ~/.local/state/sipd)
  --log-level LEVEL      debug, info, warn, error (default info)
  --log-format FORMAT    auto, json, text (default auto: JSON lines unless stderr is a TTY)
  --cluster URL          share bans, failed-auth counters, registrations and call counts with
                         the other sipd nodes on this Redis/Valkey: redis://HOST:PORT/DB
                         (rediss:// for TLS; unix:///PATH?db=DB for a Redis on this machine;
                         password from cluster.password_file)
  --workers N|auto       processes on the same listen addresses, each a cluster node (default
                         1; auto = one per core); N > 1 needs --cluster and Node.js >= 22.12
  --print-config         print the effective configuration as JSON and exit
  --check-config         validate the configuration (and database settings) and exit
  -V, --version          print the version and exit
  -h, --help             this text

Signals: SIGTERM/SIGINT stop (state saved, exit 0); SIGHUP reloads configuration-derived tables.

Configuration keys (file; flags override):
${CONFIG_KEYS.map((k) => `  ${k.key.padEnd(28)} ${k.default}\n  ${''.padEnd(28)} ${k.doc}`).join('\n')}
`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function parseFlags(argv: string[]): SipdFlags & { help?: boolean; version?: boolean; printConfig?: boolean; checkConfig?: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      db: { type: 'string' },
      listen: { type: 'string', multiple: true },
      'rpc-listen': { type: 'string', multiple: true },
      domain: { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      cluster: { type: 'string' },
      workers: { type: 'string' },
      'print-config': { type: 'boolean' },
      'check-config': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  if (positionals.length > 0) throw Object.assign(new Error(`unexpected argument ${JSON.stringify(positionals[0])}`), { code: 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' });
  return {
    config: values.config,
    db: values.db,
    listen: values.listen,
    rpcListen: values['rpc-listen'],
    domain: values.domain,
    stateDir: values['state-dir'],
    logLevel: values['log-level'],
    logFormat: values['log-format'],
    cluster: values.cluster,
    workers: values.workers,
    help: values.help,
    version: values.version,
    printConfig: values['print-config'],
    checkConfig: values['check-config'],
  };
}

function fail(message: string, code: number, hint?: string): never {
  process.stderr.write(`sipd: ${message}${hint ? ` (${hint})` : ''}\n`);
  process.exit(code);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(argv);
  } catch (e) {
    fail((e as Error).message, EXIT_CODES.usage, 'see sipd --help');
  }
  if (flags.help) {
    process.stdout.write(HELP);
    return;
  }
  const ver = version();
  if (flags.version) {
    process.stdout.write(`sipd ${ver}\n`);
    return;
  }

  let config: SipdConfig;
  let file: string | undefined;
  let db: ReturnType<typeof resolveDb>;
  try {
    ({ config, file } = loadSipdConfig(flags));
    db = resolveDb(config, flags.db);
  } catch (e) {
    if (isSipctlError(e)) fail(e.message, EXIT_CODES[e.category], e.hint);
    throw e;
  }
  // --workers N > 1: this process only starts and watches N sipd processes (workers.ts).
  const workerIndex = process.env[WORKER_ENV];
  if (workerIndex === undefined && config.workers !== 1 && !flags.printConfig) {
    try {
      const n = checkWorkers(config);
      if (n > 1) {
        if (flags.checkConfig) {
          process.stdout.write(`configuration OK: ${n} workers on ${config.listen.join(', ')}\n`);
          return;
        }
        await checkListenFree(config.listen);
        process.exitCode = await runWorkers(n, argv);
        return;
      }
    } catch (e) {
      if (isSipctlError(e)) fail(e.message, EXIT_CODES[e.category], e.hint);
      throw e;
    }
  }
  if (workerIndex !== undefined) config = workerConfig(config, Number(workerIndex));
  if (flags.printConfig) {
    process.stdout.write(JSON.stringify({ ...config, db: db.url.replace(/:[^/@:]*@/, ':****@') }, null, 2) + '\n');
    return;
  }

  applyHeapLimits(config.limits);
  const log: KernelLogger = createLogger({
    level: config.logLevel,
    format: chooseFormat(config.logFormat, process.stderr.isTTY),
    write: (line) => process.stderr.write(line),
  });
  const deps: ModuleDeps = { db: () => openDatabase(db.url, { password: db.password }) };
  const modules: AnyModule[] = [];
  // The cluster module first: the modules owning shared state reach Redis through it.
  try {
    const cluster = createClusterModule({
      url: config.cluster.url,
      nodeId: config.cluster.node_id ?? defaultNodeId(config),
      passwordFile: config.cluster.password_file,
      admission: config.cluster.admission,
      timeoutMs: config.cluster.timeout_ms,
      dialogTtlSec: config.cluster.dialog_ttl_sec,
      listen: config.listen,
      ...(config.cluster.address !== undefined ? { address: config.cluster.address } : {}),
      // a worker: its primary's workers are the cluster members it may reach on loopback
      ...(workerIndex !== undefined && process.env[WORKER_GROUP_ENV] !== undefined ? { workerGroup: process.env[WORKER_GROUP_ENV] } : {}),
    });
    modules.push(cluster as unknown as AnyModule);
  } catch (e) {
    if (isSipctlError(e)) fail(e.message, EXIT_CODES[e.category], e.hint);
    throw e;
  }
  for (const m of MODULES) {
    if (config.disableModules.includes(m.name)) continue;
    const mod = await m.load(deps);
    if (mod === undefined) log.info('module not available in this build; skipped', { module: m.name });
    else modules.push(mod);
  }
  const unknown = config.disableModules.filter((n) => !MODULES.some((m) => m.name === n));
  if (unknown.length > 0) fail(`disableModules: unknown module ${JSON.stringify(unknown[0])}`, EXIT_CODES.config, `known: ${MODULES.map((m) => m.name).join(', ')}`);

  const daemon = new Daemon({
    config,
    configFile: file,
    db,
    log,
    version: ver,
    modules,
    openDatabase: (url, password) => openDatabase(url, { password }),
    reloadConfig: () => loadSipdConfig(flags).config,
    // a worker's relay of responses between the workers' private ports (one per process)
    ...(workerIndex !== undefined ? { workerRelay: new WorkerRelay() } : {}),
  });

  try {
    const info = await daemon.start();
    if (flags.checkConfig) {
      await daemon.stop();
      process.stdout.write(`configuration OK: ${info.listen.join(', ')}; rpc ${info.rpc.join(', ')}\n`);
      return;
    }
  } catch (e) {
    log.error('sipd could not start', errorFields(e));
    if (isSipctlError(e)) fail(e.message, EXIT_CODES[e.category], e.hint);
    fail(e instanceof Error ? e.message : String(e), EXIT_CODES.internal);
  }
  // sipd --workers: this worker's sockets are bound; the primary starts worker 0 when all are (workers.ts)
  if (workerIndex !== undefined) process.send?.(WORKER_READY);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    // A stop that hangs (a module's destroy never resolving) must not keep the process alive forever.
    setTimeout(() => {
      log.error('stop did not finish within 15 s; exiting');
      process.exit(EXIT_CODES.internal);
    }, 15_000).unref();
    daemon.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error('stop failed', errorFields(e));
        process.exit(EXIT_CODES.internal);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('reloading configuration', { signal: 'SIGHUP' });
    void daemon.reload();
  });
  process.on('unhandledRejection', (reason) => log.error('unhandled promise rejection', errorFields(reason)));
  process.on('uncaughtException', (e) => {
    log.error('uncaught exception; saving state and exiting', { ...errorFields(e), stack: e.stack?.split('\n').slice(0, 8).join(' | ') });
    daemon.stop().finally(() => process.exit(EXIT_CODES.internal));
  });
}
