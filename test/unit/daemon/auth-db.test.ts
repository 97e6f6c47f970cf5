/**
 * auth-db against real databases: subscribers written by sipctl's addSubscriber, REGISTERs as
 * text, Authorization headers computed the way a UA does. Covers the digest exchange, that an
 * unknown user and a wrong password look the same on the wire and take comparable time, the
 * userban lockout (expiry, reset on success, unknown users), password-spraying lockout, and the
 * credential cache refresh by RPC and timer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../src/core/db/database.js';
import { parseAuth } from '../../../src/core/sip/headers.js';
import type { SipRequest } from '../../../src/core/sip/message.js';
import { parseMessage } from '../../../src/core/sip/parser.js';
import { addSubscriber, changePassword } from '../../../src/core/subscribers/subscribers.js';
import type { CoreApi, HtableApi, ReplySpec, RequestContext, SecurityEvent } from '../../../src/daemon/kernel/contracts.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { defineModule, type Logger } from '../../../src/daemon/kernel/module.js';
import { type DigestAlgorithm, computeHa1, computeResponse } from '../../../src/daemon/modules/auth/digest.js';
import { createAuthDbModule, keyIp, keyUser, type AuthDbModuleApi } from '../../../src/daemon/modules/auth-db/auth-db-module.js';
import { createHtableModule } from '../../../src/daemon/modules/htable/htable-module.js';
import { makeDefinition } from '../../../src/daemon/modules/htable/htable.js';
import { createStatsModule } from '../../../src/daemon/modules/stats/stats-module.js';
import { spyTimingSafeEqual } from '../../helpers/crypto-spy.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

// ------------------------------------------------------------------ SIP side

const DOMAIN = 'example.com';
const PW = { alice: 'Wonder-Land-4711', bob: 'Tiles-And-Bricks-0815', carol: 'Songs-Of-Winter-2024' } as const;
let cseq = 1;

/** A REGISTER (or INVITE for proxy auth) as a UA sends it, optionally with credentials. */
function request(o: { user?: string; toUser?: string; auth?: string; method?: 'REGISTER' | 'INVITE'; proxy?: boolean } = {}): SipRequest {
  const user = o.user ?? 'alice';
  const method = o.method ?? 'REGISTER';
  const lines = [
    `${method} sip:${DOMAIN} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-auth;rport',
    'Max-Forwards: 70',
    `From: <sip:${user}@${DOMAIN}>;tag=f1`,
    `To: <sip:${o.toUser ?? user}@${DOMAIN}>`,
    'Call-ID: auth-test@192.0.2.10',
    `CSeq: ${cseq++} ${method}`,
    `Contact: <sip:${user}@192.0.2.10:5060>`,
  ];
  if (o.auth !== undefined) lines.push(`${o.proxy ? 'Proxy-Authorization' : 'Authorization'}: ${o.auth}`);
  lines.push('Content-Length: 0', '', '');
  return parseMessage(lines.join('\r\n')) as SipRequest;
}

/** What a UA answers to one challenge (RFC 7616 §3.4, qop=auth). */
function answer(challenge: string, o: { username: string; password: string; method?: string; uri?: string; nc?: number; realmForHa1?: string }): string {
  const c = parseAuth(challenge, 'www-authenticate').params;
  const algorithm = (c.get('algorithm') ?? 'MD5') as DigestAlgorithm;
  const realm = c.get('realm')!;
  const nonce = c.get('nonce')!;
  const uri = o.uri ?? `sip:${DOMAIN}`;
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = 'c0ffee42';
  const ha1 = computeHa1(algorithm, o.username, o.realmForHa1 ?? realm, o.password);
  const response = computeResponse({ algorithm, ha1, nonce, method: o.method ?? 'REGISTER', uri, qop: 'auth', nc, cnonce });
  return `Digest username="${o.username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

function ctxFor(msg: SipRequest, ip = '192.0.2.10'): RequestContext {
  return { msg, source: { ip, port: 5060, transport: 'udp' }, local: { ip: '127.0.0.1', port: 5060, transport: 'udp' }, receivedAt: 0, isMyself: () => true };
}

function challenges(reply: ReplySpec, name = 'WWW-Authenticate'): string[] {
  return (reply.headers ?? []).filter(([n]) => n === name).map(([, v]) => v);
}

/** The reply with every nonce replaced, for byte-for-byte comparison. */
function maskNonce(reply: ReplySpec): ReplySpec {
  return { ...reply, headers: reply.headers?.map(([n, v]) => [n, v.replace(/nonce="[^"]*"/g, 'nonce="…"')]) };
}

// ------------------------------------------------------------------ the module under test

interface Ev {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

async function start(db: Database, params: Record<string, unknown> = {}, clock = { ms: 1_800_000_000_000 }, opts: { core?: CoreApi } = {}) {
  const events: Ev[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => events.push({ level, msg, fields });
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  // the real htable module (expiry, initval, 32-bit ints as in Kamailio) on the test's clock
  const htable = createHtableModule({ definitions: [makeDefinition('userban', { autoexpire: 900, initval: 0 }), makeDefinition('ipban', { autoexpire: 300 })] });
  const reg = new ModuleRegistry();
  if (opts.core !== undefined) reg.register(defineModule({ name: 'core', params: {}, init() {}, destroy() {}, rpc: {}, api: opts.core }));
  reg.register(htable);
  const stats = createStatsModule();
  reg.register(stats);
  const mod = createAuthDbModule({ db });
  reg.register(mod);
  await reg.initAll({ params: new Map([['auth-db', params]]), log, now: () => clock.ms });
  const api = mod.api as AuthDbModuleApi;
  const ht = htable.api as HtableApi;
  const auth = (msg: SipRequest, ip?: string, kind: 'www' | 'proxy' = 'www') => api.authenticate(ctxFor(msg, ip), kind);
  /** The whole exchange: REGISTER, 401, REGISTER with credentials; returns the second answer. */
  const login = async (o: { user: string; password: string; ip?: string; username?: string; toUser?: string }) => {
    const first = await auth(request({ user: o.user, toUser: o.toUser }), o.ip);
    assert.equal(first.ok, false);
    if (first.ok) throw new Error('unreachable');
    if (first.reply.status !== 401) return first;
    const header = answer(challenges(first.reply)[0], { username: o.username ?? o.user, password: o.password });
    return auth(request({ user: o.user, toUser: o.toUser, auth: header }), o.ip);
  };
  const security = () => events.filter((e) => typeof e.fields?.event === 'string').map((e) => e.fields as Record<string, unknown>);
  return { api, reg, ht, clock, auth, login, events, security, stats: stats.api!, call: async (m: string, p?: unknown[]) => reg.lookup(m)!.handler(p) };
}

function status(r: { ok: boolean; reply?: ReplySpec }): number | 'ok' {
  return r.ok ? 'ok' : (r.reply as ReplySpec).status;
}

describe('ban keys', () => {
  test('Kamailio lab form IP::user::…; "*" and ":" in a username cannot forge another key', () => {
    assert.equal(keyUser('alice'), 'alice');
    assert.equal(keyUser('*'), '%2A');
    assert.equal(keyUser('a::b'), 'a%3A%3Ab');
    assert.equal(keyUser('x'.repeat(200)).length, 64);
    assert.equal(keyIp('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(keyIp('2001:DB8::1'), '2001:db8::1');
  });
});

forEachEngine('auth-db', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
    for (const [u, pw] of Object.entries(PW)) await addSubscriber(db, u, DOMAIN, pw, { hash: 'md5', storePlaintext: false });
  });
  after(async () => {
    await db?.close();
  });

  test('challenge, then the right response: authenticated as the subscriber (MD5, qop=auth, 401 and 407)', async () => {
    const s = await start(db);
    try {
      const first = await s.auth(request());
      assert.equal(first.ok, false);
      const reply = (first as { reply: ReplySpec }).reply;
      assert.deepEqual([reply.status, reply.reason], [401, 'Unauthorized']);
      const [ch] = challenges(reply);
      assert.equal(challenges(reply).length, 1, 'hash md5: MD5 only');
      assert.match(ch, /^Digest realm="example\.com", nonce="[A-Za-z0-9_-]+", algorithm=MD5, qop="auth"$/);
      const ok = await s.auth(request({ auth: answer(ch, { username: 'alice', password: PW.alice }) }));
      assert.deepEqual(ok, { ok: true, username: 'alice', domain: DOMAIN });

      const inv = await s.auth(request({ method: 'INVITE' }), undefined, 'proxy');
      const pr = (inv as { reply: ReplySpec }).reply;
      assert.deepEqual([pr.status, pr.reason], [407, 'Proxy Authentication Required']);
      const pch = challenges(pr, 'Proxy-Authenticate')[0];
      const okInv = await s.auth(request({ method: 'INVITE', proxy: true, auth: answer(pch, { username: 'alice', password: PW.alice, method: 'INVITE' }) }), undefined, 'proxy');
      assert.equal(okInv.ok, true);

      const ha1b = await s.login({ user: 'bob', username: `bob@${DOMAIN}`, password: PW.bob });
      assert.deepEqual(ha1b, { ok: true, username: 'bob', domain: DOMAIN }, 'user@domain usernames use ha1b');
      assert.equal(s.stats.get('auth:successes'), 3);
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('an unknown user and a wrong password get byte-identical replies (but for the nonce) and the same events', async () => {
    const s = await start(db);
    try {
      const wrong = await s.login({ user: 'alice', password: 'not-the-password', ip: '198.51.100.1' });
      const unknown = await s.login({ user: 'mallory', password: 'not-the-password', ip: '198.51.100.2' });
      assert.equal(wrong.ok, false);
      assert.equal(unknown.ok, false);
      const w = (wrong as { reply: ReplySpec }).reply;
      const u = (unknown as { reply: ReplySpec }).reply;
      assert.deepEqual(maskNonce(w), maskNonce(u));
      assert.notEqual(challenges(w)[0], challenges(u)[0], 'fresh nonces');
      const [ew, eu] = s.security();
      assert.deepEqual(Object.keys(ew), Object.keys(eu));
      assert.deepEqual([ew.event, ew.detail, eu.event, eu.detail], ['auth-failed', 'invalid-credentials', 'auth-failed', 'invalid-credentials']);
      assert.deepEqual(s.ht.keys('userban', '198.51.100.1::').sort(), ['198.51.100.1::*::auth_count', '198.51.100.1::*::last_auth', '198.51.100.1::alice::auth_count', '198.51.100.1::alice::last_auth']);
      assert.deepEqual(s.ht.keys('userban', '198.51.100.2::').sort(), ['198.51.100.2::*::auth_count', '198.51.100.2::*::last_auth', '198.51.100.2::mallory::auth_count', '198.51.100.2::mallory::last_auth'], 'unknown users are counted the same');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('unknown user and wrong password do the same work: the same comparisons, in crypto.timingSafeEqual', async () => {
    // by construction, not by a stopwatch (timings measure the machine's load): both look up,
    // compute a response (a dummy HA1 for the unknown user) and compare full-length responses
    const s = await start(db, { max_failures: 0, spray_max_failures: 0, cache_refresh: 0 });
    try {
      const first = (await s.auth(request())) as { reply: ReplySpec };
      const challenge = challenges(first.reply)[0];
      const attempt = async (user: string, nc: number) => {
        const spy = spyTimingSafeEqual();
        try {
          const r = await s.auth(request({ user, auth: answer(challenge, { username: user, password: 'wrong-password', nc }) }));
          assert.deepEqual(r, { ok: false, reply: (r as { reply: ReplySpec }).reply });
          return { status: (r as { reply: ReplySpec }).reply.status, calls: spy.calls };
        } finally {
          spy.restore();
        }
      };
      const known = await attempt('alice', 1);
      const unknown = await attempt('ghost', 2);
      assert.deepEqual(unknown, known, 'the same answer and the same comparisons');
      assert.equal(known.status, 401);
      assert.deepEqual(known.calls.at(-1), { lengths: [32, 32], result: false }, 'a full MD5 response compared');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('lockout: after 3 failures "403 Try later" without a challenge, even with the right password, until the window passes', async () => {
    const s = await start(db);
    const ip = '203.0.113.5';
    try {
      for (let i = 0; i < 3; i++) assert.equal(status(await s.login({ user: 'carol', password: 'guess-' + i, ip })), 401);
      const locked = await s.login({ user: 'carol', password: PW.carol, ip });
      assert.deepEqual(locked, { ok: false, reply: { status: 403, reason: 'Try later' } });
      const noCreds = await s.auth(request({ user: 'carol', auth: answer('Digest realm="example.com", nonce="x", algorithm=MD5, qop="auth"', { username: 'carol', password: PW.carol }) }), ip);
      assert.deepEqual(noCreds, { ok: false, reply: { status: 403, reason: 'Try later' } }, 'no digest is even checked');
      assert.equal(status(await s.login({ user: 'carol', password: PW.carol, ip: '203.0.113.6' })), 'ok', 'another address is not locked');
      assert.deepEqual(s.ht.get('userban', `${ip}::carol::auth_count`), { type: 'int', value: 3 });
      assert.deepEqual(s.ht.get('userban', `${ip}::carol::last_auth`), { type: 'int', value: Math.floor(s.clock.ms / 1000) });

      const sec = s.security();
      assert.equal(sec.filter((e) => e.event === 'auth-failed').length, 3);
      const lock = sec.filter((e) => e.event === 'auth-lockout');
      assert.equal(lock.length, 1, 'one lockout event when the lock engages');
      assert.deepEqual(lock[0], { event: 'auth-lockout', sourceIp: ip, method: 'REGISTER', user: 'carol' });
      assert.equal(s.stats.get('auth:refused'), 2);
      assert.equal(s.stats.get('auth:lockouts'), 1);

      s.clock.ms += 899_000;
      assert.equal(status(await s.login({ user: 'carol', password: PW.carol, ip })), 403, 'still inside the window');
      s.clock.ms += 2_000;
      assert.equal(status(await s.login({ user: 'carol', password: PW.carol, ip })), 'ok', 'expired');
      assert.deepEqual(s.ht.keys('userban', `${ip}::carol::`), [], 'success clears the pair');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('the lock also ends by the window alone when the table keeps items longer (last_auth check, as the lab config)', async () => {
    const s = await start(db, { failure_window: 60 });
    const ip = '203.0.113.7';
    try {
      for (let i = 0; i < 3; i++) await s.login({ user: 'carol', password: 'nope', ip });
      // the counter was kept past the window (e.g. htable without expiry): last_auth decides
      s.ht.setInt('userban', `${ip}::carol::auth_count`, 3, 0);
      s.clock.ms += 61_000;
      assert.equal(status(await s.login({ user: 'carol', password: PW.carol, ip })), 'ok');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('success before the limit resets the counter; unknown usernames are locked like real ones', async () => {
    const s = await start(db);
    const ip = '203.0.113.8';
    try {
      for (let i = 0; i < 2; i++) await s.login({ user: 'alice', password: 'nope', ip });
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip })), 'ok');
      for (let i = 0; i < 2; i++) assert.equal(status(await s.login({ user: 'alice', password: 'nope', ip })), 401);
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip })), 'ok', 'two failures after the reset do not lock');

      for (let i = 0; i < 3; i++) assert.equal(status(await s.login({ user: 'nobody', password: 'nope', ip })), 401);
      assert.equal(status(await s.login({ user: 'nobody', password: 'nope', ip })), 403, 'an enumerator sees the same lock for a name that does not exist');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('password spraying: failures across users from one address lock the address; success does not reset it', async () => {
    const s = await start(db);
    const ip = '192.0.2.66';
    try {
      for (let i = 0; i < 9; i++) assert.equal(status(await s.login({ user: `user${i}`, password: 'Summer2024!', ip })), 401);
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip })), 'ok', 'below the limit a real user still gets in');
      assert.equal(status(await s.login({ user: 'bob', password: 'Summer2024!', ip })), 401, 'tenth failure');
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip })), 403, 'the address is locked for everyone');
      assert.deepEqual(await s.auth(request({ user: 'carol' }), ip), { ok: false, reply: { status: 403, reason: 'Try later' } }, 'not even a challenge');
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip: '192.0.2.67' })), 'ok');
      const spray = s.security().filter((e) => e.event === 'spray-lockout');
      assert.deepEqual(spray, [{ event: 'spray-lockout', sourceIp: ip, method: 'REGISTER', user: 'bob' }]);
      assert.deepEqual(s.ht.get('userban', `${ip}::*::auth_count`), { type: 'int', value: 10 });

      // sipctl's unban: delete every key of the address
      for (const k of s.ht.keys('userban', `${ip}::`)) s.ht.delete('userban', k);
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip })), 'ok');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('an unknown Authorization scheme gets a fresh 401 challenge, never counted as a failure (RFC 4475 regaut01)', async () => {
    const s = await start(db);
    const ip = '192.0.2.89';
    try {
      for (let i = 0; i < 5; i++) {
        const r = await s.auth(request({ user: 'alice', auth: 'NoOneKnowsThisScheme opaque-data=here' }), ip);
        assert.equal(status(r), 401);
        assert.equal(challenges((r as { reply: ReplySpec }).reply).length, 1, 'a Digest challenge');
      }
      assert.equal(s.stats.get('auth:failures'), 0);
      assert.deepEqual(s.ht.keys('userban', `${ip}::`), [], 'nothing counted: no lockout');
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip })), 'ok');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('a retransmitted REGISTER is accepted again and never counted; a replay in another request is refused but never locks out', async () => {
    const s = await start(db);
    const ip = '192.0.2.88';
    try {
      const first = (await s.auth(request({ user: 'alice' }), ip)) as { reply: ReplySpec };
      const creds = answer(challenges(first.reply)[0], { username: 'alice', password: PW.alice });
      // the authenticated REGISTER, and the very same bytes again (sipp resends after 500 ms without an answer)
      const msg = request({ user: 'alice', auth: creds });
      assert.equal(status(await s.auth(msg, ip)), 'ok');
      for (let i = 0; i < 12; i++) assert.equal(status(await s.auth(msg, ip)), 'ok', `retransmission ${i + 1}`);
      assert.deepEqual(s.ht.keys('userban', `${ip}::`), [], 'nothing counted');
      assert.equal(s.stats.get('auth:successes'), 1);
      assert.equal(s.stats.get('auth:retransmissions'), 12);
      assert.equal(s.stats.get('auth:failures'), 0);

      // The same credentials in another request (another CSeq: request() counts up): a replay.
      for (let i = 0; i < 12; i++) assert.equal(status(await s.auth(request({ user: 'alice', auth: creds }), ip)), 401, `replay ${i + 1}`);
      assert.deepEqual(s.ht.keys('userban', `${ip}::`), [], 'a replay (right digest) is no guess: not counted');
      assert.equal(s.security().filter((e) => e.detail === 'replay').length, 12, 'but each is logged');
      assert.equal(s.stats.get('auth:failures'), 12);
      assert.equal(status(await s.login({ user: 'alice', password: PW.alice, ip })), 'ok', 'the address is not locked');
      assert.equal(status(await s.login({ user: 'bob', password: PW.bob, ip })), 'ok');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('credential cache: new and changed subscribers count after auth.reloadCredentials, and after the refresh timer', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const s = await start(db, { max_failures: 0, spray_max_failures: 0, cache_refresh: 60 });
    try {
      const before = s.api.cachedSubscribers();
      await addSubscriber(db, 'dave', DOMAIN, 'Drives-Far-1234', { hash: 'md5', storePlaintext: false });
      assert.equal(status(await s.login({ user: 'dave', password: 'Drives-Far-1234' })), 401, 'not in the cache yet');
      assert.deepEqual(await s.call('auth.reloadCredentials'), { subscribers: before + 1 });
      assert.equal(status(await s.login({ user: 'dave', password: 'Drives-Far-1234' })), 'ok');

      await changePassword(db, 'dave', DOMAIN, 'Walks-Home-5678', { hash: 'md5', storePlaintext: false });
      assert.equal(status(await s.login({ user: 'dave', password: 'Drives-Far-1234' })), 'ok', 'the old password until a refresh');
      t.mock.timers.tick(60_000);
      for (let i = 0; i < 500 && status(await s.login({ user: 'dave', password: 'Walks-Home-5678' })) !== 'ok'; i++) await new Promise((r) => setImmediate(r));
      assert.equal(status(await s.login({ user: 'dave', password: 'Walks-Home-5678' })), 'ok', 'the timer reloaded');
      assert.equal(status(await s.login({ user: 'dave', password: 'Drives-Far-1234' })), 401);
      await db.execute('DELETE FROM subscriber WHERE username = ?', ['dave']);
      await s.api.reloadCredentials();
      assert.equal(status(await s.login({ user: 'dave', password: 'Walks-Home-5678' })), 401, 'removed');
    } finally {
      await s.reg.destroyAll();
      t.mock.timers.reset();
    }
  });

  test('stale nonces are re-challenged with stale=true and not counted; replays and identity mismatches are failures', async () => {
    const s = await start(db, { nonce_expire: 30 });
    const ip = '192.0.2.77';
    try {
      const first = (await s.auth(request(), ip)) as { reply: ReplySpec };
      const ch = challenges(first.reply)[0];
      s.clock.ms += 31_000;
      const stale = (await s.auth(request({ auth: answer(ch, { username: 'alice', password: PW.alice }) }), ip)) as { ok: false; reply: ReplySpec };
      assert.equal(stale.reply.status, 401);
      assert.match(challenges(stale.reply)[0], /, stale=true$/);
      assert.deepEqual(s.ht.keys('userban', `${ip}::`), [], 'a stale nonce is not a failure');

      const fresh = challenges(stale.reply)[0];
      const creds = answer(fresh, { username: 'alice', password: PW.alice });
      assert.equal((await s.auth(request({ auth: creds }), ip)).ok, true);
      assert.equal(status(await s.auth(request({ auth: creds }), ip)), 401, 'the same nc again is a replay');
      assert.equal(status(await s.auth(request({ auth: answer(fresh, { username: 'alice', password: PW.alice, nc: 2 }) }), ip)), 'ok', 'the next nc is fine');

      const mismatch = await s.login({ user: 'alice', toUser: 'bob', password: PW.alice, ip });
      assert.equal(status(mismatch), 401, "alice's credentials do not register bob");
      assert.deepEqual(s.security().map((e) => e.detail), ['replay', 'identity-mismatch']);
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('with the core module loaded, security events go to its (rate-limited) security log', async () => {
    const seen: SecurityEvent[] = [];
    const core: CoreApi = { database: () => Promise.resolve(db), securityEvent: (ev) => seen.push(ev), isMyself: () => true, domains: () => [DOMAIN], stateDir: '/nonexistent', sipSockets: () => [], onSipSocketsBound: () => undefined };
    const s = await start(db, {}, undefined, { core });
    const ip = '192.0.2.88';
    try {
      for (let i = 0; i < 3; i++) await s.login({ user: 'alice', password: 'nope', ip });
      assert.deepEqual(seen.map((e) => e.event), ['auth-failed', 'auth-failed', 'auth-failed', 'auth-lockout']);
      assert.deepEqual(seen[3], { event: 'auth-lockout', sourceIp: ip, method: 'REGISTER', user: 'alice' });
      assert.deepEqual(s.security(), [], 'not also written to the module log');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('configuration: lockout needs the htable table; a short secret is refused; a fixed secret keeps nonces across restarts', async () => {
    const reg = new ModuleRegistry();
    reg.register(createAuthDbModule({ db }));
    await assert.rejects(reg.initAll({ log: { debug() {}, info() {}, warn() {}, error() {} } }), /needs the htable module/);
    await assert.rejects(start(db, { ban_table: 'nosuch' }), /needs the htable module with table "nosuch"/);
    await assert.rejects(start(db, { secret: 'short' }), /at least 32 characters/);

    const secret = 'a-long-shared-secret-for-nonces-0123456789';
    const clock = { ms: 1_800_000_000_000 };
    const a = await start(db, { secret }, clock);
    const ch = challenges(((await a.auth(request())) as { reply: ReplySpec }).reply)[0];
    await a.reg.destroyAll();
    const b = await start(db, { secret }, clock);
    try {
      assert.equal((await b.auth(request({ auth: answer(ch, { username: 'alice', password: PW.alice }) }))).ok, true);
    } finally {
      await b.reg.destroyAll();
    }
  });
});

forEachEngine('auth-db with SHA-256 credentials', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
    await addSubscriber(db, 'erin', DOMAIN, 'Hashes-Deep-2048', { hash: 'sha256', storePlaintext: false });
    await addSubscriber(db, 'frank', DOMAIN, 'Plain-Text-4096', { hash: 'md5', storePlaintext: true });
  });
  after(async () => {
    await db?.close();
  });

  test('hash sha256 offers SHA-256 only (the same for every user) and verifies it', async () => {
    const s = await start(db, { hash: 'sha256' });
    try {
      const known = challenges(((await s.auth(request({ user: 'erin' }))) as { reply: ReplySpec }).reply);
      const unknown = challenges(((await s.auth(request({ user: 'nobody' }))) as { reply: ReplySpec }).reply);
      assert.equal(known.length, 1);
      assert.match(known[0], /algorithm=SHA-256/);
      assert.deepEqual(known.map((c) => c.replace(/nonce="[^"]*"/, '')), unknown.map((c) => c.replace(/nonce="[^"]*"/, '')), 'no per-user difference');
      assert.equal(status(await s.login({ user: 'erin', password: 'Hashes-Deep-2048' })), 'ok');
      const md5 = answer(known[0].replace('SHA-256', 'MD5'), { username: 'erin', password: 'Hashes-Deep-2048' });
      assert.equal(status(await s.auth(request({ user: 'erin', auth: md5 }))), 401, 'MD5 is not offered, so not accepted');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('the stored hash decides: an MD5 ha1 under hash sha256 cannot authenticate (and looks like any failure)', async () => {
    const s = await start(db, { hash: 'sha256' });
    try {
      assert.equal(status(await s.login({ user: 'frank', password: 'Plain-Text-4096' })), 401);
      assert.ok(s.events.some((e) => e.level === 'warn' && /other hash/.test(e.msg)), 'the start-up log says why');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('calculate_ha1 with stored plaintext offers SHA-256 then MD5, and both work', async () => {
    const s = await start(db, { calculate_ha1: true });
    try {
      const first = (await s.auth(request({ user: 'frank' }))) as { reply: ReplySpec };
      const [sha, md5] = challenges(first.reply);
      assert.match(sha, /algorithm=SHA-256/);
      assert.match(md5, /algorithm=MD5/);
      assert.equal(status(await s.auth(request({ user: 'frank', auth: answer(sha, { username: 'frank', password: 'Plain-Text-4096' }) }))), 'ok');
      assert.equal(status(await s.auth(request({ user: 'frank', auth: answer(md5, { username: 'frank', password: 'Plain-Text-4096' }) }))), 'ok');
      assert.equal(status(await s.auth(request({ user: 'erin', auth: answer(sha, { username: 'erin', password: 'Hashes-Deep-2048' }) }))), 401, 'no plaintext stored: cannot authenticate');
    } finally {
      await s.reg.destroyAll();
    }
  });
});
