/**
 * sipd's configuration: one file (--config, JSON), command-line flags over it, defaults under
 * it, and the database URL resolved exactly as sipctl resolves it. Every key, its type and its
 * default is in CONFIG_KEYS below; config/README.md is the same table for people, and
 * `sipd --print-config` shows the effective values.
 *
 * YAML: the issue asks for JSON or YAML; no YAML parser is installed in this project (no `yaml`
 * package in node_modules), so a .yaml / .yml file is refused with a clear message instead of
 * being half-understood.
 *
 * Validation is strict: an unknown key, a value of the wrong type or out of range is a
 * ConfigError naming the key — a typo in a security setting must not fall back silently.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { canonicalIpv6, isUnspecified } from '../../core/address/ip.js';
import { assertSecretPrivate, resolveConfig } from '../../core/config/config.js';
import { SOCKET_NAME, defaultStateDir } from '../../core/daemon/files.js';
import { ConfigError } from '../../core/errors.js';
import type { LogLevel } from '../kernel/logger.js';

export interface SipdConfig {
  listen: string[];
  rpcListen: string[];
  domain: string[];
  stateDir: string;
  db?: string;
  logLevel: LogLevel;
  logFormat: 'auto' | 'json' | 'text';
  stateSaveIntervalSec: number;
  sip: { maxMessageSize: number; maxHeaders: number; maxLineLength: number; udpReceiveBuffer: number };
  tcp: { maxConnections: number; maxConnectionsPerSource: number; idleTimeoutSec: number; slowSenderTimeoutSec: number; keepaliveMinIntervalSec: number };
  rpc: { maxRequestBytes: number; maxBatch: number; timeoutSec: number; maxConnections: number; maxConnectionsPerSource: number };
  /** bounds of the kernel's own tables that grow with traffic (issue 18); each is a sipd: gauge in stats */
  limits: { replyCacheEntries: number; requestsInFlight: number; securityLogSources: number; heapGrowthPercent: number; heapOptimizeForSize: boolean };
  tls: TlsConfig;
  htables: Record<string, Record<string, unknown>>;
  modules: Record<string, Record<string, unknown>>;
  disableModules: string[];
  /** sipd --cluster: shared state through Redis/Valkey (cluster module); url undefined = a node alone */
  cluster: ClusterConfig;
  /** sipd --workers: processes on the same listen addresses (each a cluster node); 0 = one per core */
  workers: number;
  /** set by --workers for its processes (not a configuration key): bind SIP sockets with reusePort */
  reusePort?: boolean;
}

/** The cluster section (see src/daemon/modules/cluster/README.md). */
export interface ClusterConfig {
  /** redis://[user@]HOST:PORT/DB, rediss://…, or unix:///PATH?db=DB; undefined = no cluster */
  url?: string;
  /** this node's name in the cluster; default hostname + first listen address */
  node_id?: string;
  /** the IP other nodes hand calls to this node at when it listens on every address (0.0.0.0, ::) */
  address?: string;
  /** file (0600) holding the Redis password; never in the URL or argv */
  password_file?: string;
  /** call admission while Redis is unreachable: "open" admits on the local count, "closed" answers 503 */
  admission: 'open' | 'closed';
  /** one Redis command may take this long before the cluster counts as down */
  timeout_ms: number;
  /** seconds a node's dialog record lives unless its owner refreshes it (crash-safety of call limits) */
  dialog_ttl_sec: number;
}

/** SIP over TLS (tls: listen addresses). Paths are resolved against the working directory. */
export interface TlsConfig {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  requireClientCert: boolean;
  verifyClientCert: boolean;
  cnMustMatchFromUser: boolean;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  handshakeTimeoutSec: number;
}

/** What can be given on the command line (each replaces the file's value; repeatable flags replace the whole list). */
export interface SipdFlags {
  config?: string;
  db?: string;
  listen?: string[];
  rpcListen?: string[];
  domain?: string[];
  stateDir?: string;
  logLevel?: string;
  logFormat?: string;
  /** --cluster URL (cluster.url) */
  cluster?: string;
  /** --workers N|auto */
  workers?: string;
}

export const DEFAULT_LISTEN = Object.freeze(['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060']);
export const DEFAULT_HTTP_RPC = 'http://127.0.0.1:5071/RPC';

/** One row per key: the documentation (README, --help) and the validation come from here. */
export const CONFIG_KEYS: ReadonlyArray<{ key: string; type: string; default: string; doc: string }> = [
  { key: 'listen', type: 'string[]', default: '["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]', doc: 'SIP sockets: udp:IP:PORT / tcp:IP:PORT / tls:IP:PORT (tls needs tls.certFile and tls.keyFile; its port defaults to 5061), IPv6 in brackets (udp:[::1]:5060); port 0 = any free port. Loopback only unless configured.' },
  { key: 'rpcListen', type: 'string[]', default: '["http://127.0.0.1:5071/RPC", "unix:<stateDir>/sipd.sock"]', doc: 'JSON-RPC endpoints: http://IP:PORT/PATH and unix:/path (stream socket, created 0600)' },
  { key: 'domain', type: 'string[]', default: '[]', doc: 'SIP domains the proxy is (besides its listen addresses); the first is the default realm' },
  { key: 'stateDir', type: 'string', default: '$XDG_STATE_HOME/sipd or ~/.local/state/sipd', doc: 'state files (htable contents), runtime file, default unix socket; created 0700' },
  { key: 'db', type: 'string', default: "sipctl's database URL", doc: 'database URL; precedence: --db, SIPCTL_DB, this key, sipctl\'s config file / kamctlrc, sipctl\'s default. Password: SIPCTL_DB_PASSWORD or sipctl\'s config file' },
  { key: 'logLevel', type: '"debug"|"info"|"warn"|"error"', default: '"info"', doc: 'lowest level written' },
  { key: 'logFormat', type: '"auto"|"json"|"text"', default: '"auto"', doc: 'auto: JSON lines unless stderr is a TTY' },
  { key: 'stateSaveIntervalSec', type: 'integer 1–3600', default: '5', doc: 'changed state is saved at most this long after the change (and always at shutdown)' },
  { key: 'sip.maxMessageSize', type: 'integer', default: '65535', doc: 'largest SIP message (bytes); also the per-connection TCP buffer cap' },
  { key: 'sip.maxHeaders', type: 'integer', default: '100', doc: 'most header fields in one message' },
  { key: 'sip.maxLineLength', type: 'integer', default: '8192', doc: 'longest header line (bytes)' },
  { key: 'sip.udpReceiveBuffer', type: 'integer', default: '4194304', doc: 'kernel receive buffer of each UDP socket (bytes; SO_RCVBUF, capped by net.core.rmem_max; Kamailio\'s maxbuffer is 256 KiB): one event loop reads each socket, so bursts queue here; at 256 KiB a sipd keeping up on average lost datagrams to bursts (UA retransmissions), a deeper queue only delays them' },
  { key: 'tcp.maxConnections', type: 'integer', default: '2048', doc: 'open SIP TCP (and TLS) connections in all; when every slot is taken, a new connection closes the least recently active one' },
  { key: 'tcp.maxConnectionsPerSource', type: 'integer', default: '32', doc: 'open SIP TCP connections from one source IP (never more than half of maxConnections: a larger value is applied as half, with a warning at start)' },
  { key: 'tcp.idleTimeoutSec', type: 'integer', default: '120', doc: 'a connection with no complete message for this long is closed (keep-alives: see keepaliveMinIntervalSec)' },
  { key: 'tcp.slowSenderTimeoutSec', type: 'integer', default: '10', doc: 'a message (headers and body), once started, must be complete within this; so must the first message after the accept, CRLF keep-alives or not (slowloris guard)' },
  { key: 'tcp.keepaliveMinIntervalSec', type: 'integer 1–3600', default: '30', doc: 'a CRLF keep-alive (RFC 5626) refreshes the idle timer at most once per this; each double-CRLF ping is answered with a CRLF pong' },
  { key: 'tls.certFile', type: 'string', default: '(none)', doc: 'server certificate (PEM; may include the chain) for tls: listen addresses; required when one is configured. `sipctl tls selfsigned` makes a pair for testing' },
  { key: 'tls.keyFile', type: 'string', default: '(none)', doc: 'its private key (PEM, unencrypted; keep it 0600 — a warning is logged otherwise)' },
  { key: 'tls.caFile', type: 'string', default: '(none)', doc: 'CA certificate(s) (PEM) client certificates are verified against; required by verifyClientCert' },
  { key: 'tls.requireClientCert', type: 'boolean', default: 'false', doc: 'a TLS client that presents no certificate is disconnected after the handshake' },
  { key: 'tls.verifyClientCert', type: 'boolean', default: 'false', doc: 'a client certificate that does not chain to caFile (or is expired) is disconnected after the handshake' },
  { key: 'tls.cnMustMatchFromUser', type: 'boolean', default: 'false', doc: 'requests over TLS need a verified client certificate whose subject CN equals the From user; otherwise 403 "Certificate does not match", before authentication. Needs verifyClientCert' },
  { key: 'tls.minVersion', type: '"TLSv1.2"|"TLSv1.3"', default: '"TLSv1.2"', doc: 'oldest TLS version accepted' },
  { key: 'tls.maxVersion', type: '"TLSv1.2"|"TLSv1.3"', default: '"TLSv1.3"', doc: 'newest TLS version offered; "TLSv1.2" for clients that break on TLS 1.3 session tickets (sipsak 0.9.8 with GnuTLS does)' },
  { key: 'tls.handshakeTimeoutSec', type: 'integer 1–300', default: '10', doc: 'a TLS handshake must finish within this (the TCP limits above apply to TLS connections too)' },
  { key: 'rpc.maxRequestBytes', type: 'integer', default: '1048576', doc: 'larger JSON-RPC requests are refused (HTTP 413 / -32600)' },
  { key: 'rpc.maxBatch', type: 'integer', default: '100', doc: 'most calls in one batch array' },
  { key: 'rpc.timeoutSec', type: 'integer', default: '10', doc: 'a request (headers and body) must arrive completely within this from the connection (or the previous reply) on; checked every second' },
  { key: 'rpc.maxConnections', type: 'integer', default: '64', doc: 'open RPC connections per endpoint; when every slot is taken, a new connection closes the least recently active idle one' },
  { key: 'rpc.maxConnectionsPerSource', type: 'integer', default: '16', doc: 'open RPC HTTP connections from one source IP (never more than half of maxConnections: a larger value is applied as half, with a warning at start)' },
  { key: 'limits.replyCacheEntries', type: 'integer 1024–10000000', default: '32768', doc: 'REGISTERs remembered for 32 s to answer their retransmissions with the same reply (oldest forgotten first; a forgotten one is handled again); stats sipd:reply_cache_entries' },
  { key: 'limits.requestsInFlight', type: 'integer 1–1000000', default: '1024', doc: 'REGISTERs being authenticated and saved at once; beyond it 503 with Retry-After; stats sipd:requests_in_flight' },
  { key: 'limits.securityLogSources', type: 'integer 16–10000000', default: '10000', doc: '(event, source) pairs the security log remembers to rate-limit its lines (least recently seen forgotten first); stats sipd:security_log_sources' },
  { key: 'limits.heapGrowthPercent', type: 'integer 0–400', default: '25', doc: 'after each full garbage collection the JavaScript heap may grow by this share of what is still in use before the next one (V8 --heap-growing-percent); 0 leaves it to V8, which under steady load lets it grow to up to 4× and keeps the memory of load bursts. Costs peak rate: with both heap limits at their defaults sipd sustained 1,700–2,000 REGISTER+digest/s against 2,960/s with 0 and false (bench/RESULTS.md); set 0 and heapOptimizeForSize false where peak rate matters more than flat memory. stats sipd:heap_total_kb, sipd:heap_used_kb' },
  { key: 'limits.heapOptimizeForSize', type: 'boolean', default: 'true', doc: 'V8 keeps the JavaScript heap compact (V8 --optimize-for-size, set at start): fragmented pages are compacted at full garbage collections, so memory freed by expired cache entries and load bursts is returned instead of staying committed, at a CPU cost (see limits.heapGrowthPercent). It also shrinks the young generation, so short-lived garbage is collected more often: the sipd command (the shebang of bin/sipd.js, also under the systemd unit) and each --workers worker start with node --min-semi-space-size=16, a floor for it (a start-up flag, taken only from the node command line, not from NODE_OPTIONS; about 16 MB more per process; 20 % less CPU per REGISTER with the CPU starved, little difference with CPU to spare); node bin/sipd.js runs without it unless given on that command line. stats sipd:heap_total_kb' },
  { key: 'htables', type: 'object name → {size, autoexpire, initval, updateexpire, dbtable}', default: '{"ipban": {"size": 8, "autoexpire": 300}, "userban": {"size": 8, "autoexpire": 900, "initval": 0}}', doc: 'hash tables; merged over the defaults (a name given here replaces that default)' },
  { key: 'modules', type: 'object module → {param: value}', default: '{}', doc: 'module parameters (Kamailio modparam); see each module\'s README. A JSON array of strings is accepted for a comma-separated list parameter' },
  { key: 'cluster.url', type: 'string', default: '(none)', doc: 'redis://HOST:PORT/DB, rediss://HOST:PORT/DB, or unix:///PATH/redis.sock?db=DB for a Redis on this machine (its unix socket costs both sides a quarter to a third less CPU per request than TCP on loopback) (also --cluster): share bans, failed-auth counters, registrations and call counts with the other sipd nodes on that Redis/Valkey. No password in the URL: see cluster.password_file' },
  { key: 'cluster.node_id', type: 'string', default: 'hostname/first listen address', doc: 'this node\'s name in the cluster (sipctl nodes); unique per node' },
  { key: 'cluster.address', type: 'IP address', default: '(none)', doc: 'when this node listens on every address (udp:0.0.0.0, udp:[::]): the address of this machine the other nodes send it calls for the users registered through it (a phone behind NAT or on TCP is reached only through the node it registered with). Without it such a node has no hand-off address and other machines call its users\' contacts directly; the --workers of one sipd reach each other on loopback anyway. sipd warns at start when it is not an address of this machine, or when no listen address is 0.0.0.0 / :: of its family (then it changes nothing)' },
  { key: 'cluster.password_file', type: 'string', default: '(none)', doc: 'file holding the Redis AUTH password (one line; must not be readable by others: 0600)' },
  { key: 'cluster.admission', type: '"open"|"closed"', default: '"closed"', doc: 'while Redis is unreachable: "closed" refuses calls of users with a call limit (503), "open" admits them on this node\'s own count' },
  { key: 'cluster.timeout_ms', type: 'integer 50–10000', default: '500', doc: 'a Redis command not answered within this fails (REGISTER 503) and marks the cluster down until it answers again' },
  { key: 'cluster.dialog_ttl_sec', type: 'integer 10–86400', default: '90', doc: 'a call counted against a user\'s limit is forgotten this long after its owner node last refreshed it (a dead node\'s calls free themselves)' },
  { key: 'workers', type: 'integer 0–64', default: '1', doc: 'processes serving the same listen addresses (also --workers; 0 or "auto" = one per core); more than 1 needs cluster.url and Node.js >= 22.12' },
  { key: 'disableModules', type: 'string[]', default: '[]', doc: 'optional modules not to load: sanity, maxfwd, scanner, pike, stats, alerts, prometheus, pv, permissions, usrloc, auth-db, registrar, identity, mtree, pipelimit, acc, dialog, proxy (without proxy, sipd relays nothing)' },
];

const TOP_KEYS = new Set(['listen', 'rpcListen', 'domain', 'stateDir', 'db', 'logLevel', 'logFormat', 'stateSaveIntervalSec', 'sip', 'tcp', 'rpc', 'limits', 'tls', 'htables', 'modules', 'disableModules', 'cluster', 'workers']);

export function defaultConfig(env: NodeJS.ProcessEnv = process.env): SipdConfig {
  const stateDir = defaultStateDir(env);
  return {
    listen: [...DEFAULT_LISTEN],
    rpcListen: [DEFAULT_HTTP_RPC, `unix:${join(stateDir, SOCKET_NAME)}`],
    domain: [],
    stateDir,
    logLevel: 'info',
    logFormat: 'auto',
    stateSaveIntervalSec: 5,
    sip: { maxMessageSize: 65_535, maxHeaders: 100, maxLineLength: 8192, udpReceiveBuffer: 4_194_304 },
    tcp: { maxConnections: 2048, maxConnectionsPerSource: 32, idleTimeoutSec: 120, slowSenderTimeoutSec: 10, keepaliveMinIntervalSec: 30 },
    rpc: { maxRequestBytes: 1_048_576, maxBatch: 100, timeoutSec: 10, maxConnections: 64, maxConnectionsPerSource: 16 },
    limits: { ...DEFAULT_LIMITS },
    tls: { ...DEFAULT_TLS },
    htables: {},
    modules: {},
    disableModules: [],
    cluster: { admission: 'closed', timeout_ms: 500, dialog_ttl_sec: 90 },
    workers: 1,
  };
}

function bad(where: string, key: string, why: string): ConfigError {
  return new ConfigError('CONFIG_BAD_VALUE', `${where}: ${key} ${why}`, 'see `sipd --help` and src/daemon/config/README.md for every key');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string, key: string): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 1024)) throw bad(where, key, 'must be a list of strings');
  return [...v] as string[];
}

function integer(v: unknown, where: string, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(where, key, `must be an integer ${min}–${max}`);
  return v;
}

function choice<T extends string>(v: unknown, where: string, key: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) throw bad(where, key, `must be one of ${options.join(', ')}`);
  return v as T;
}

function section<T extends Record<string, number>>(v: unknown, base: T, where: string, key: string, ranges: Record<keyof T, [number, number]>): T {
  if (!isObject(v)) throw bad(where, key, 'must be an object');
  const out = { ...base };
  for (const [k, x] of Object.entries(v)) {
    if (!(k in base)) throw new ConfigError('CONFIG_UNKNOWN_KEY', `${where}: unknown key "${key}.${k.slice(0, 64)}"`, `known: ${Object.keys(base).map((b) => `${key}.${b}`).join(', ')}`);
    const [min, max] = ranges[k as keyof T];
    (out as Record<string, number>)[k] = integer(x, where, `${key}.${k}`, min, max);
  }
  return out;
}

const DEFAULT_LIMITS: Readonly<SipdConfig['limits']> = Object.freeze({ replyCacheEntries: 32_768, requestsInFlight: 1024, securityLogSources: 10_000, heapGrowthPercent: 25, heapOptimizeForSize: true });

/**
 * Configured values that sipd applies lower than given, one line each, for the start-up log: a
 * per-source connection cap is never more than half of all slots (so one address cannot take
 * them all), and a bound silently applied lower would look like a bug in production.
 */
export function clampedSettings(cfg: SipdConfig): string[] {
  const out: string[] = [];
  for (const k of ['tcp', 'rpc'] as const) {
    const half = Math.max(1, Math.floor(cfg[k].maxConnections / 2));
    if (cfg[k].maxConnectionsPerSource > half) out.push(`${k}.maxConnectionsPerSource ${cfg[k].maxConnectionsPerSource} is more than half of ${k}.maxConnections (${cfg[k].maxConnections}); ${half} is applied`);
  }
  return out;
}

const DEFAULT_TLS: Readonly<TlsConfig> = Object.freeze({ requireClientCert: false, verifyClientCert: false, cnMustMatchFromUser: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', handshakeTimeoutSec: 10 });

function tlsSection(v: unknown, base: TlsConfig, where: string): TlsConfig {
  if (!isObject(v)) throw bad(where, 'tls', 'must be an object');
  const out: TlsConfig = { ...base };
  for (const [k, x] of Object.entries(v)) {
    switch (k) {
      case 'certFile':
      case 'keyFile':
      case 'caFile':
        if (typeof x !== 'string' || x === '' || x.length > 4096) throw bad(where, `tls.${k}`, 'must be a file path');
        out[k] = x;
        break;
      case 'requireClientCert':
      case 'verifyClientCert':
      case 'cnMustMatchFromUser':
        if (typeof x !== 'boolean') throw bad(where, `tls.${k}`, 'must be true or false');
        out[k] = x;
        break;
      case 'minVersion':
      case 'maxVersion':
        out[k] = choice(x, where, `tls.${k}`, ['TLSv1.2', 'TLSv1.3'] as const);
        break;
      case 'handshakeTimeoutSec':
        out.handshakeTimeoutSec = integer(x, where, 'tls.handshakeTimeoutSec', 1, 300);
        break;
      default:
        throw new ConfigError('CONFIG_UNKNOWN_KEY', `${where}: unknown key "tls.${k.slice(0, 64)}"`, `known: ${['certFile', 'keyFile', 'caFile', 'requireClientCert', 'verifyClientCert', 'cnMustMatchFromUser', 'minVersion', 'maxVersion', 'handshakeTimeoutSec'].map((b) => `tls.${b}`).join(', ')}`);
    }
  }
  return out;
}

/**
 * The TLS settings that only make sense together: a tls: listen address needs a certificate and
 * key; verifying client certificates needs the CA to verify against; the CN policy trusts only a
 * verified certificate (anyone can make a self-signed one with any CN).
 */
export function checkTlsConfig(cfg: SipdConfig, where: string): void {
  const t = cfg.tls;
  const tlsListen = cfg.listen.some((l) => /^\s*tls:/i.test(l));
  if (tlsListen && (t.certFile === undefined || t.keyFile === undefined)) {
    throw new ConfigError('CONFIG_BAD_VALUE', `${where}: a tls: listen address needs tls.certFile and tls.keyFile`, 'create a pair for testing with `sipctl tls selfsigned`');
  }
  if (t.verifyClientCert && t.caFile === undefined) throw bad(where, 'tls.verifyClientCert', 'needs tls.caFile (the CA client certificates must chain to)');
  if (t.minVersion === 'TLSv1.3' && t.maxVersion === 'TLSv1.2') throw bad(where, 'tls.minVersion', 'is newer than tls.maxVersion');
  if (t.cnMustMatchFromUser && !t.verifyClientCert) throw bad(where, 'tls.cnMustMatchFromUser', 'needs tls.verifyClientCert: the CN of an unverified certificate proves nothing');
}

const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;

function domains(v: unknown, where: string): string[] {
  const list = stringList(v, where, 'domain');
  for (const d of list) if (!DOMAIN.test(d) && !/^[0-9a-fA-F:.]+$/.test(d)) throw bad(where, 'domain', `${JSON.stringify(d.slice(0, 64))} is not a host name`);
  return list;
}

const CLUSTER_KEYS = ['url', 'node_id', 'address', 'password_file', 'admission', 'timeout_ms', 'dialog_ttl_sec'] as const;

/** cluster.url for a Redis on this machine: its unix socket (absolute path), database optional */
export const UNIX_REDIS_URL = /^unix:\/\/(\/[^\s?#]+)(?:\?db=(\d{1,2}))?$/;

function clusterSection(v: unknown, base: ClusterConfig, where: string): ClusterConfig {
  if (!isObject(v)) throw bad(where, 'cluster', 'must be an object');
  const out: ClusterConfig = { ...base };
  for (const [k, x] of Object.entries(v)) {
    switch (k) {
      case 'url': {
        if (typeof x !== 'string' || !(/^rediss?:\/\/[^/\s]+(\/\d{1,2})?\/?$/.test(x) || UNIX_REDIS_URL.test(x))) throw bad(where, 'cluster.url', 'must be redis://HOST:PORT/DB, rediss://HOST:PORT/DB or unix:///PATH/redis.sock?db=DB');
        if (/^rediss?:\/\/[^/@]*:[^/@]*@/.test(x)) throw bad(where, 'cluster.url', 'must not carry a password (it would show in ps and logs); put it in cluster.password_file');
        out.url = x;
        break;
      }
      case 'node_id':
        if (typeof x !== 'string' || !/^[A-Za-z0-9._:\[\]\/@-]{1,128}$/.test(x)) throw bad(where, 'cluster.node_id', 'must be 1–128 characters of letters, digits and ._:[]/@-');
        out.node_id = x;
        break;
      case 'address': {
        const ip = typeof x === 'string' && net.isIP(x) !== 0 ? (net.isIPv6(x) ? canonicalIpv6(x) : x) : undefined;
        if (ip === undefined || isUnspecified(ip)) throw bad(where, 'cluster.address', 'must be an IP address of this machine (not 0.0.0.0 or ::)');
        out.address = ip;
        break;
      }
      case 'password_file':
        if (typeof x !== 'string' || x === '' || x.length > 4096) throw bad(where, 'cluster.password_file', 'must be a file path');
        out.password_file = x;
        break;
      case 'admission':
        out.admission = choice(x, where, 'cluster.admission', ['open', 'closed'] as const);
        break;
      case 'timeout_ms':
        out.timeout_ms = integer(x, where, 'cluster.timeout_ms', 50, 10_000);
        break;
      case 'dialog_ttl_sec':
        out.dialog_ttl_sec = integer(x, where, 'cluster.dialog_ttl_sec', 10, 86_400);
        break;
      default:
        throw new ConfigError('CONFIG_UNKNOWN_KEY', `${where}: unknown key "cluster.${k.slice(0, 64)}"`, `known: ${CLUSTER_KEYS.map((b) => `cluster.${b}`).join(', ')}`);
    }
  }
  return out;
}

/** Module params: objects of scalars; a string array becomes the comma-separated string module params use. */
function moduleParams(v: unknown, where: string): Record<string, Record<string, unknown>> {
  if (!isObject(v)) throw bad(where, 'modules', 'must be an object of module name → parameters');
  const out: Record<string, Record<string, unknown>> = {};
  for (const [mod, params] of Object.entries(v)) {
    if (!isObject(params)) throw bad(where, `modules.${mod.slice(0, 64)}`, 'must be an object of parameter → value');
    const p: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(params)) {
      if (Array.isArray(value) && value.every((x) => typeof x === 'string')) p[name] = value.join(',');
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') p[name] = value;
      else throw bad(where, `modules.${mod.slice(0, 64)}.${name.slice(0, 64)}`, 'must be a string, number, boolean or list of strings');
    }
    out[mod] = p;
  }
  return out;
}

/** Apply a parsed config file object over `cfg`. */
export function applyFileConfig(cfg: SipdConfig, raw: unknown, where: string): SipdConfig {
  if (!isObject(raw)) throw new ConfigError('CONFIG_BAD_JSON', `${where} must hold a JSON object`);
  const out: SipdConfig = { ...cfg, sip: { ...cfg.sip }, tcp: { ...cfg.tcp }, rpc: { ...cfg.rpc }, limits: { ...cfg.limits }, tls: { ...cfg.tls }, cluster: { ...cfg.cluster } };
  for (const [k, v] of Object.entries(raw)) {
    if (!TOP_KEYS.has(k)) throw new ConfigError('CONFIG_UNKNOWN_KEY', `${where}: unknown key "${k.slice(0, 64)}"`, `known keys: ${[...TOP_KEYS].join(', ')}`);
    switch (k) {
      case 'listen':
        out.listen = stringList(v, where, k);
        if (out.listen.length === 0) throw bad(where, k, 'must list at least one address');
        break;
      case 'rpcListen':
        out.rpcListen = Array.isArray(v) && v.length === 0 ? [] : stringList(v, where, k);
        break;
      case 'domain':
        out.domain = domains(v, where);
        break;
      case 'stateDir':
        if (typeof v !== 'string' || v === '') throw bad(where, k, 'must be a directory path');
        out.stateDir = v;
        break;
      case 'db':
        if (typeof v !== 'string' || v === '') throw bad(where, k, 'must be a database URL');
        out.db = v;
        break;
      case 'logLevel':
        out.logLevel = choice(v, where, k, ['debug', 'info', 'warn', 'error'] as const);
        break;
      case 'logFormat':
        out.logFormat = choice(v, where, k, ['auto', 'json', 'text'] as const);
        break;
      case 'stateSaveIntervalSec':
        out.stateSaveIntervalSec = integer(v, where, k, 1, 3600);
        break;
      case 'sip':
        out.sip = section(v, out.sip, where, k, { maxMessageSize: [512, 1_048_576], maxHeaders: [8, 10_000], maxLineLength: [256, 65_535], udpReceiveBuffer: [65_536, 64 * 1_048_576] });
        break;
      case 'tcp':
        out.tcp = section(v, out.tcp, where, k, { maxConnections: [1, 1_000_000], maxConnectionsPerSource: [1, 1_000_000], idleTimeoutSec: [1, 86_400], slowSenderTimeoutSec: [1, 3600], keepaliveMinIntervalSec: [1, 3600] });
        break;
      case 'rpc':
        out.rpc = section(v, out.rpc, where, k, { maxRequestBytes: [1024, 64 * 1_048_576], maxBatch: [1, 10_000], timeoutSec: [1, 3600], maxConnections: [1, 100_000], maxConnectionsPerSource: [1, 100_000] });
        break;
      case 'limits': {
        // one boolean among the integer bounds
        const { heapOptimizeForSize, ...bounds } = isObject(v) ? v : ({} as Record<string, unknown>);
        if (heapOptimizeForSize !== undefined && typeof heapOptimizeForSize !== 'boolean') throw bad(where, 'limits.heapOptimizeForSize', 'must be true or false');
        const { heapOptimizeForSize: current, ...base } = out.limits;
        out.limits = { ...section(isObject(v) ? bounds : v, base, where, k, { replyCacheEntries: [1024, 10_000_000], requestsInFlight: [1, 1_000_000], securityLogSources: [16, 10_000_000], heapGrowthPercent: [0, 400] }), heapOptimizeForSize: (heapOptimizeForSize as boolean | undefined) ?? current };
        break;
      }
      case 'tls':
        out.tls = tlsSection(v, out.tls, where);
        break;
      case 'htables':
        if (!isObject(v) || !Object.values(v).every(isObject)) throw bad(where, k, 'must be an object of table name → attributes');
        out.htables = v as Record<string, Record<string, unknown>>;
        break;
      case 'modules':
        out.modules = moduleParams(v, where);
        break;
      case 'disableModules':
        out.disableModules = Array.isArray(v) && v.length === 0 ? [] : stringList(v, where, k);
        break;
      case 'cluster':
        out.cluster = clusterSection(v, out.cluster, where);
        break;
      case 'workers':
        if (v === 'auto') out.workers = 0;
        else out.workers = integer(v, where, k, 0, 64);
        break;
    }
  }
  return out;
}

/** Read a config file (JSON). */
export function readConfigFile(path: string): unknown {
  if (/\.ya?ml$/i.test(path)) {
    throw new ConfigError('CONFIG_YAML_UNSUPPORTED', `${path}: YAML configuration needs a YAML parser, and none is installed in this build`, 'write the same keys as JSON (sipd --print-config prints a complete example)');
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError('CONFIG_BAD_JSON', `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export interface LoadedConfig {
  config: SipdConfig;
  /** absolute path of the file read, if any */
  file?: string;
}

/** defaults < config file < flags. The file is --config, else $SIPD_CONFIG, else none. */
export function loadSipdConfig(flags: SipdFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  let cfg = defaultConfig(env);
  const path = flags.config ?? (env.SIPD_CONFIG || undefined);
  let file: string | undefined;
  let rpcExplicit = flags.rpcListen !== undefined && flags.rpcListen.length > 0;
  if (path !== undefined) {
    file = isAbsolute(path) ? path : resolve(cwd, path);
    const raw = readConfigFile(file);
    cfg = applyFileConfig(cfg, raw, file);
    if (isObject(raw) && 'rpcListen' in raw) rpcExplicit = true;
  }
  const fromFlags: Record<string, unknown> = {};
  if (flags.listen?.length) fromFlags.listen = flags.listen;
  if (flags.rpcListen?.length) fromFlags.rpcListen = flags.rpcListen;
  if (flags.domain?.length) fromFlags.domain = flags.domain;
  if (flags.stateDir !== undefined) fromFlags.stateDir = flags.stateDir;
  if (flags.db !== undefined) fromFlags.db = flags.db;
  if (flags.logLevel !== undefined) fromFlags.logLevel = flags.logLevel;
  if (flags.logFormat !== undefined) fromFlags.logFormat = flags.logFormat;
  if (flags.cluster !== undefined) fromFlags.cluster = { url: flags.cluster };
  if (flags.workers !== undefined) fromFlags.workers = flags.workers === 'auto' ? 'auto' : /^\d{1,3}$/.test(flags.workers) ? Number(flags.workers) : flags.workers;
  cfg = applyFileConfig(cfg, fromFlags, 'command line');
  cfg.stateDir = resolve(cwd, cfg.stateDir);
  for (const k of ['certFile', 'keyFile', 'caFile'] as const) {
    const f = cfg.tls[k];
    if (f !== undefined) cfg.tls[k] = resolve(cwd, f);
  }
  if (cfg.cluster.password_file !== undefined) cfg.cluster.password_file = resolve(cwd, cfg.cluster.password_file);
  checkTlsConfig(cfg, file ?? 'command line');
  // The default unix socket lives in the state directory, wherever that ended up.
  if (!rpcExplicit) cfg.rpcListen = [DEFAULT_HTTP_RPC, `unix:${join(cfg.stateDir, SOCKET_NAME)}`];
  return { config: cfg, ...(file !== undefined ? { file } : {}) };
}

export interface DbSettings {
  url: string;
  password?: string;
  /** where the URL came from, for the start-up log line */
  source: string;
}

/**
 * The database URL: --db, then SIPCTL_DB, then sipd's config file, then sipctl's own
 * configuration (its config file, kamctlrc) and default — so sipd and sipctl see the same
 * database unless told otherwise. The password comes from sipctl's resolution
 * (SIPCTL_DB_PASSWORD or sipctl's config file).
 */
export function resolveDb(cfg: SipdConfig, flagDb: string | undefined, env: NodeJS.ProcessEnv = process.env): DbSettings {
  const rc = resolveConfig({ flags: { db: flagDb }, env });
  // sipd uses the database password: a config file others can read that holds it is refused.
  assertSecretPrivate(rc, 'db');
  const src = rc.sources.db.source;
  if (src === 'flag' || src === 'env' || cfg.db === undefined) {
    return { url: rc.values.db, password: rc.values.dbPassword, source: src === 'flag' ? '--db' : src === 'env' ? 'SIPCTL_DB' : `sipctl ${src}${rc.sources.db.detail ? ` (${rc.sources.db.detail})` : ''}` };
  }
  return { url: cfg.db, password: rc.values.dbPassword, source: 'sipd config file' };
}
