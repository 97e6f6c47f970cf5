/**
 * The auth-db module: digest authentication (RFC 2617 / RFC 7616 / RFC 8760, qop=auth,
 * stateless nonces with expiry and replay protection, from ../auth/digest.ts) against the
 * subscriber table's ha1 / ha1b, held in a credential cache; and the failed-auth lockout of
 * Kamailio's security playbook (the "userban" htable pattern) plus a per-source-IP counter
 * against password spraying.
 *
 * What a client can learn: nothing about which usernames exist. An unknown user and a wrong
 * password take the same path (cache lookup, a digest computed against a dummy HA1 when the user
 * is unknown, constant-time compare), get the same reply (same status, same headers; only the
 * nonce differs) and count the same towards lockout. Algorithms offered come from a module
 * parameter, never from the user's row.
 *
 * Lockout (htable `userban`, keys as in the Kamailio lab config):
 *   IP::user::auth_count / IP::user::last_auth  — failures of one user from one address
 *   IP::*::auth_count    / IP::*::last_auth     — failures of all users from one address
 * When a counter has reached its limit and the last failure is within failure_window seconds,
 * requests get "403 Try later" without a challenge, even with the right password. A success
 * clears the pair's counter only: the per-address counter is not cleared by success, or one
 * known account would let a sprayer reset it between guesses.
 *
 * Only guesses count. A replayed nonce is refused (and logged) but never counted: the digest in
 * it was right, so it is no password guess, and a UDP retransmission that arrives after its
 * original was accepted must not lock the phone out. The retransmission itself (the same request
 * again, see RETRANSMISSION_MS in ../auth/digest.ts) is accepted like the original.
 */
import { hash, randomBytes } from 'node:crypto';
import { ConfigError } from '../../../core/errors.js';
import type { Database } from '../../../core/db/database.js';
import type { AuthValue, SipRequest } from '../../../core/sip/message.js';
import { unescape } from '../../../core/sip/uri.js';
import type { AuthApi, CoreApi, HtableApi, ReplySpec, RequestContext, SecurityEvent, StatsApi } from '../../kernel/contracts.js';
import { defineModule, type Logger } from '../../kernel/module.js';
import { DigestAuth, type DigestAlgorithm, type Ha1Query, computeHa1 } from '../auth/digest.js';
import { closeModuleDb, openModuleDb, assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { ReloadGate, startPeriodicReload } from '../../kernel/reload-gate.js';
import { CredentialCache } from './credential-cache.js';
import { RpcFault } from '../../kernel/rpc-fault.js';

export interface AuthDbModuleApi extends AuthApi {
  /** subscribers held in the credential cache */
  cachedSubscribers(): number;
}

export interface AuthDbDeps {
  /** the database holding `subscriber`; a function is called at init and its result closed at destroy */
  db?: ModuleDbDependency;
}

const params = {
  realm: { type: 'string', default: '', doc: "realm of challenges and of ha1; empty = the From URI's host (Kamailio's $fd), which must be the subscriber's domain" },
  hash: { type: 'string', default: 'md5', choices: ['md5', 'sha256'], doc: 'hash of the stored ha1/ha1b (as sipctl wrote them: its `hash` setting); decides the one algorithm offered' },
  calculate_ha1: { type: 'boolean', default: false, doc: 'compute HA1 from the plaintext password column instead (then SHA-256 and MD5 are both offered)' },
  subscriber_table: { type: 'string', default: 'subscriber', doc: 'table with username, domain, ha1, ha1b (and password) columns' },
  cache_refresh: { type: 'integer', default: 60, min: 0, max: 86_400, doc: 'seconds between credential cache reloads; 0 = only at start and on auth.reloadCredentials' },
  nonce_expire: { type: 'integer', default: 300, min: 10, max: 3600, doc: 'seconds a nonce stays fresh; an older one with a right digest is answered stale=true' },
  nonce_replay_entries: { type: 'integer', default: 65_536, min: 1024, max: 10_000_000, doc: 'nonces remembered for replay protection (least recently used forgotten; a forgotten nonce older than the newest forgotten one is answered stale=true); stats sipd:nonce_replay_entries' },
  secret: { type: 'string', default: '', doc: 'nonce key, at least 32 characters; empty = random per start (nonces do not survive a restart)' },
  allow_no_qop: { type: 'boolean', default: true, doc: 'accept RFC 2069 credentials without qop (each nonce then works once)' },
  ban_table: { type: 'string', default: 'userban', doc: 'htable holding the failure counters' },
  max_failures: { type: 'integer', default: 3, min: 0, max: 1000, doc: 'failures of one user from one address before "403 Try later"; 0 = no per-user lockout' },
  spray_max_failures: { type: 'integer', default: 10, min: 0, max: 100_000, doc: 'failures of any users from one address before "403 Try later"; 0 = no per-address lockout' },
  failure_window: { type: 'integer', default: 900, min: 1, max: 86_400, doc: 'seconds after the last failure that a lockout lasts and counters are kept' },
} as const;

/** subscriber.username is VARCHAR(64): longer usernames cannot exist; keys keep at most this much */
const KEY_USER_MAX = 64;

/** The user part of a ban key: "%" and ":" escaped, and "*" (the per-address key) never produced by a user. */
export function keyUser(user: string): string {
  const cut = user.length > KEY_USER_MAX ? user.slice(0, KEY_USER_MAX) : user;
  const u = cut.indexOf('%') === -1 && cut.indexOf(':') === -1 ? cut : cut.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
  return u === '*' ? '%2A' : u;
}

/** An IPv4-mapped IPv6 source (dual-stack socket) is its IPv4 address, so bans match sipctl's view. */
export function keyIp(ip: string): string {
  if (ip.indexOf(':') === -1) return ip.toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m === null ? ip.toLowerCase() : m[1];
}

function fromHost(msg: SipRequest): string {
  const u = msg.from?.uri;
  return u !== undefined && u.kind === 'sip' ? u.host.toLowerCase() : '';
}

/**
 * The identity of a request for telling a retransmission from a replay: every header field in
 * order, and the body. A retransmission is byte for byte the same request (RFC 3261 §17.1.2.2);
 * a replay that changes anything (Call-ID, CSeq, Contact, Expires…) gets another identity.
 * Used when the kernel did not already key the request by its bytes (ctx.requestKey).
 */
export function requestIdentity(msg: SipRequest): string {
  let s = `${msg.method} ${msg.rawUri}\n`;
  for (const f of msg.headers) s += `${f.name}:${f.value}\n`;
  if (msg.body.length > 0) s += msg.body.toString('latin1');
  return hash('sha256', s, 'base64');
}

/**
 * The Digest credentials for our realm (Kamailio picks by realm), else the first Digest ones.
 * Credentials of another scheme are not ours to judge: the request is treated as carrying none
 * and gets a fresh challenge, not a counted failure (RFC 4475 §3.3.7 regaut01).
 */
function pickCredentials(list: readonly AuthValue[], realm: string): AuthValue | undefined {
  const digest = list.filter((a) => a.scheme.toLowerCase() === 'digest');
  return digest.find((a) => a.params.get('realm') === realm) ?? digest[0];
}

export function createAuthDbModule(deps: AuthDbDeps = {}) {
  let cache = CredentialCache.empty();
  let db: Database | undefined;
  let ownsDb = false;
  let digest: DigestAuth | undefined;
  let timer: NodeJS.Timeout | undefined;
  let log: Logger | undefined;
  let p: {
    realm: string; hash: 'md5' | 'sha256'; calculateHa1: boolean; table: string; banTable: string;
    maxFailures: number; sprayMax: number; window: number;
  } = { realm: '', hash: 'md5', calculateHa1: false, table: 'subscriber', banTable: 'userban', maxFailures: 3, sprayMax: 10, window: 900 };
  let ht: HtableApi | undefined;
  let stats: StatsApi | undefined;
  let core: CoreApi | undefined;
  let nowSec = () => Math.floor(Date.now() / 1000);

  async function loadCredentials(): Promise<void> {
    if (db === undefined) throw new ConfigError('AUTH_NO_DB', 'auth-db: no database configured');
    const next = await CredentialCache.load(db, p.table, p.calculateHa1);
    cache = next;
    const lengths = next.hashLengths();
    const wrong = p.hash === 'md5' ? lengths.sha256 : lengths.md5;
    if (!p.calculateHa1 && wrong > 0) {
      log?.warn('auth-db: some subscribers have ha1 of the other hash; they cannot authenticate until their password is set again', { hash: p.hash, count: wrong });
    }
    log?.info('auth-db: credentials loaded', { subscribers: next.size });
  }
  const gate = new ReloadGate(loadCredentials);

  /** Kamailio's ha1 / ha1b lookup, from the cache; same work whether the user exists or not. */
  const ha1Lookup = (q: Ha1Query): string | undefined => {
    const domain = q.variant === 'ha1b' ? (q.domain ?? '') : q.realm;
    const cred = cache.get(q.user, domain);
    if (p.calculateHa1) {
      const pw = cred?.password ?? '';
      // A user without a stored password hashes the empty string like everyone else, then fails on length 0 below.
      const ha1 = computeHa1(q.algorithm, q.username, q.realm, pw);
      return pw === '' ? undefined : ha1;
    }
    return q.variant === 'ha1b' ? cred?.ha1b : cred?.ha1;
  };

  /** Through the kernel's rate-limited security log when the core module is there, else our logger. */
  function emit(level: 'info' | 'warn', ev: SecurityEvent): void {
    if (core !== undefined) core.securityEvent(ev);
    else log?.[level](ev.event, { ...ev });
  }

  /** A counter pair is locked when it reached `max` and its last failure is within the window. */
  function locked(ip: string, user: string, max: number): boolean {
    if (ht === undefined || max <= 0) return false;
    const base = `${ip}::${user}::`;
    const count = ht.get(p.banTable, base + 'auth_count');
    if (count?.type !== 'int' || count.value < max) return false;
    const last = ht.get(p.banTable, base + 'last_auth');
    if (last?.type === 'int' && last.value > nowSec() - p.window) return true;
    // Kamailio's config resets the count once the window has passed.
    ht.setInt(p.banTable, base + 'auth_count', 0, p.window);
    return false;
  }

  /**
   * Count one failure; returns the new count. In a cluster (a replicated ban table) the count is
   * one atomic increment of the total over every node, so the lockout trips after max_failures
   * guesses in all, not per node; while Redis is away it counts here.
   */
  async function countFailure(ip: string, user: string): Promise<number> {
    if (ht === undefined) return 0;
    const base = `${ip}::${user}::`;
    let n: number;
    const shared = ht as HtableApi & { incShared?(t: string, k: string, by: number, sec: number): Promise<number> };
    if (typeof shared.incShared === 'function') n = await shared.incShared(p.banTable, base + 'auth_count', 1, p.window);
    else {
      n = ht.inc(p.banTable, base + 'auth_count');
      // inc() keeps the table's own expiry; set ours explicitly so counters never outlive the window.
      ht.setInt(p.banTable, base + 'auth_count', n, p.window);
    }
    ht.setInt(p.banTable, base + 'last_auth', nowSec(), p.window);
    return n;
  }

  function clearPair(ip: string, user: string): void {
    if (ht === undefined) return;
    ht.delete(p.banTable, `${ip}::${user}::auth_count`);
    ht.delete(p.banTable, `${ip}::${user}::last_auth`);
  }

  function challenge(kind: 'www' | 'proxy', realm: string, stale = false): ReplySpec {
    const values = (digest as DigestAuth).challenge({ realm, stale });
    const name = kind === 'www' ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    return kind === 'www'
      ? { status: 401, reason: 'Unauthorized', headers: values.map((v) => [name, v]) }
      : { status: 407, reason: 'Proxy Authentication Required', headers: values.map((v) => [name, v]) };
  }

  const tryLater: ReplySpec = { status: 403, reason: 'Try later' };

  const api: AuthDbModuleApi = {
    async authenticate(ctx: RequestContext, kind) {
      if (digest === undefined) throw new ConfigError('AUTH_NOT_READY', 'auth-db is not initialised');
      const msg = ctx.msg;
      const ip = keyIp(ctx.source.ip);
      const method = msg.method;
      const realm = p.realm || fromHost(msg);
      const cred = pickCredentials(kind === 'www' ? msg.authorization : msg.proxyAuthorization, realm);
      const rawUser = cred?.params.get('username');
      // Credentials without a username still count, under the empty user (Kamailio's empty $au).
      const user = keyUser(rawUser ?? '');
      const evUser = rawUser?.slice(0, KEY_USER_MAX);

      if (locked(ip, '*', p.sprayMax) || (cred !== undefined && locked(ip, user, p.maxFailures))) {
        stats?.inc('auth:refused');
        log?.debug('auth-db: locked out', { sourceIp: ip, method, user: evUser });
        return { ok: false, reply: tryLater };
      }
      if (cred === undefined) {
        stats?.inc('auth:challenges');
        return { ok: false, reply: challenge(kind, realm) };
      }

      const r = await digest.verify(cred, { method, uri: msg.rawUri, realm, ha1Lookup, requestId: ctx.requestKey ?? requestIdentity(msg) });
      if (r.status === 'stale') {
        stats?.inc('auth:challenges');
        return { ok: false, reply: challenge(kind, realm, true) };
      }
      let identityOk = false;
      let username = '';
      let domain = '';
      if (r.status === 'ok') {
        const at = r.username.indexOf('@');
        username = r.variant === 'ha1b' ? r.username.slice(0, at) : r.username;
        domain = r.variant === 'ha1b' ? r.username.slice(at + 1) : r.realm;
        // Kamailio auth_check(…, 1): the user authenticated must be the one in To (REGISTER) / From.
        const idUri = kind === 'www' ? msg.to?.uri : msg.from?.uri;
        identityOk = idUri !== undefined && idUri.kind === 'sip' && idUri.user !== undefined && unescape(idUri.user) === username;
      }
      if (r.status === 'ok' && identityOk) {
        clearPair(ip, user);
        stats?.inc(r.retransmission ? 'auth:retransmissions' : 'auth:successes');
        return { ok: true, username, domain };
      }

      // Failure: unknown user, wrong password, bad or replayed nonce, malformed, identity mismatch.
      stats?.inc('auth:failures');
      emit('info', { event: 'auth-failed', sourceIp: ip, method, user: evUser, detail: r.status === 'fail' ? r.reason : 'identity-mismatch' });
      if (r.status === 'fail' && r.reason === 'replay') {
        // The digest was right: no guess, so no lockout (see the top of this file).
        stats?.inc('auth:challenges');
        return { ok: false, reply: challenge(kind, realm) };
      }
      const [pairCount, ipCount] = await Promise.all([countFailure(ip, user), countFailure(ip, '*')]);
      if (p.maxFailures > 0 && pairCount === p.maxFailures) {
        stats?.inc('auth:lockouts');
        emit('warn', { event: 'auth-lockout', sourceIp: ip, method, user: evUser });
      }
      if (p.sprayMax > 0 && ipCount === p.sprayMax) {
        stats?.inc('auth:spray_lockouts');
        emit('warn', { event: 'spray-lockout', sourceIp: ip, method, user: evUser });
      }
      stats?.inc('auth:challenges');
      return { ok: false, reply: challenge(kind, realm) };
    },
    reloadCredentials: () => gate.reload(),
    cachedSubscribers: () => cache.size,
  };

  return defineModule({
    name: 'auth-db',
    params,
    async init(ctx) {
      log = ctx.log;
      const c = ctx.params;
      assertTableName('auth-db.subscriber_table', c.subscriber_table);
      if (c.secret !== '' && Buffer.byteLength(c.secret, 'utf8') < 32) throw new ConfigError('MODULE_PARAM_INVALID', 'auth-db.secret: at least 32 characters', 'or leave it empty for a random key per start');
      p = {
        realm: c.realm.toLowerCase(),
        hash: c.hash as 'md5' | 'sha256',
        calculateHa1: c.calculate_ha1,
        table: c.subscriber_table,
        banTable: c.ban_table,
        maxFailures: c.max_failures,
        sprayMax: c.spray_max_failures,
        window: c.failure_window,
      };
      nowSec = () => Math.floor(ctx.now() / 1000);
      if (p.maxFailures > 0 || p.sprayMax > 0) {
        ht = ctx.api<HtableApi>('htable');
        if (ht === undefined || !ht.has(p.banTable)) {
          throw new ConfigError('MODULE_DEPENDENCY', `auth-db lockout needs the htable module with table ${JSON.stringify(p.banTable)}`, 'load htable before auth-db and define the table, or set max_failures and spray_max_failures to 0');
        }
      }
      stats = ctx.api<StatsApi>('stats');
      core = ctx.api<CoreApi>('core');
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'auth-db needs a database with the subscriber table');
      ({ db, owned: ownsDb } = await openModuleDb(deps.db));

      const algorithms: DigestAlgorithm[] = p.calculateHa1 ? ['SHA-256', 'MD5'] : [p.hash === 'sha256' ? 'SHA-256' : 'MD5'];
      const secret = c.secret === '' ? randomBytes(32) : Buffer.from(c.secret, 'utf8');
      digest = new DigestAuth({ realm: p.realm || 'sipd', secret, nonceExpires: c.nonce_expire, algorithms, allowNoQop: c.allow_no_qop, now: ctx.now, replayCacheSize: c.nonce_replay_entries });
      const g = stats as { gauge?(name: string, read: () => number): void } | undefined;
      if (g !== undefined && typeof g.gauge === 'function') g.gauge('sipd:nonce_replay_entries', () => digest?.replayCacheEntries ?? 0);
      secret.fill(0);
      await gate.reload();
      timer = startPeriodicReload(gate, c.cache_refresh, (e) => ctx.log.error('auth-db: credential refresh failed, keeping the previous cache', { error: String(e) }));
    },
    async destroy() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await gate.idle();
      digest?.close();
      digest = undefined;
      core = undefined;
      cache = CredentialCache.empty();
      await closeModuleDb(db, ownsDb);
      db = undefined;
      ownsDb = false;
    },
    rpc: {
      'auth.reloadCredentials': {
        doc: 'Reload the credential cache from the subscriber table (after sipctl add/passwd/rm)',
        async handler() {
          try {
            await gate.reload();
          } catch (e) {
            log?.error('auth-db: credential reload failed, keeping the previous cache', { error: String(e) });
            throw new RpcFault(500, 'Reload failed.');
          }
          return { subscribers: cache.size };
        },
      },
    },
    api,
  });
}
