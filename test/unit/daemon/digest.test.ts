import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import {
  DigestAuth, type DigestAlgorithm, type DigestOptions, type Ha1Query, computeHa1, computeResponse,
} from '../../../src/daemon/modules/auth/digest.js';
import { parseAuth } from '../../../src/core/sip/headers.js';
import { ValidationError } from '../../../src/core/errors.js';
import { spyTimingSafeEqual, type TimingSafeEqualCall } from '../../helpers/crypto-spy.js';

// ------------------------------------------------------------------------------ RFC vectors

/** RFC 7616 §3.9.1, the Authorization header for SHA-256 exactly as printed (folded). */
const RFC7616_SHA256 = `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;

/** RFC 7616 §3.9.1, the MD5 variant. */
const RFC7616_MD5 = RFC7616_SHA256.replace('algorithm=SHA-256', 'algorithm=MD5').replace(
  '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  '8ca523f5e9506fed4657c9700eebdbec',
);

function unfold(s: string): string {
  return s.replace(/\n\s+/g, ' ');
}

for (const [algorithm, header] of [['SHA-256', RFC7616_SHA256], ['MD5', RFC7616_MD5]] as const) {
  test(`RFC 7616 §3.9.1 example, ${algorithm}: exact response`, () => {
    const p = parseAuth(unfold(header)).params;
    assert.equal(p.get('algorithm'), algorithm);
    const ha1 = computeHa1(algorithm, 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    const response = computeResponse({
      algorithm, ha1, method: 'GET', uri: p.get('uri')!, nonce: p.get('nonce')!, qop: 'auth', nc: p.get('nc')!, cnonce: p.get('cnonce')!,
    });
    assert.equal(response, p.get('response'));
    assert.equal(response, algorithm === 'MD5' ? '8ca523f5e9506fed4657c9700eebdbec' : '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    assert.equal(computeResponse({ algorithm, ha1: ha1.toUpperCase(), method: 'GET', uri: '/dir/index.html', nonce: p.get('nonce')!, qop: 'auth', nc: '00000001', cnonce: p.get('cnonce')! }), response, 'stored HA1 case does not matter');
  });
}

test('RFC 2617 §3.5 example (MD5, qop=auth)', () => {
  const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  const r = computeResponse({ algorithm: 'MD5', ha1, method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' });
  assert.equal(r, '6629fae49393a05397450978507c4ef1');
});

// -------------------------------------------------------------------------------- our server

const REALM = 'example.com';
const SECRET = Buffer.alloc(32, 7);
const PASSWORDS = new Map([['alice', 'wonderland'], ['bob', 'builder']]);

/** A subscriber table in memory: ha1 and ha1b for both algorithms, like Kamailio's columns. */
function lookup(calls: Ha1Query[] = []) {
  return (q: Ha1Query) => {
    calls.push(q);
    if (q.variant === 'ha1b' && q.domain !== REALM) return undefined;
    const pw = PASSWORDS.get(q.user);
    if (pw === undefined) return undefined;
    return computeHa1(q.algorithm, q.variant === 'ha1b' ? `${q.user}@${q.domain}` : q.user, q.realm, pw);
  };
}

function server(opts: Partial<DigestOptions> = {}) {
  const clock = { t: 1_700_000_000_000 };
  const auth = new DigestAuth({ realm: REALM, secret: SECRET, now: () => clock.t, ...opts });
  return { auth, clock };
}

/** What a UA does with one challenge. */
function answer(challenge: string, o: { username?: string; password?: string; method?: string; uri?: string; nc?: number; cnonce?: string; qop?: boolean; algorithm?: string } = {}): string {
  const c = parseAuth(challenge).params;
  const algorithm = (c.get('algorithm') ?? 'MD5') as DigestAlgorithm;
  const username = o.username ?? 'alice';
  const password = o.password ?? PASSWORDS.get(username.split('@')[0]) ?? 'x';
  const uri = o.uri ?? 'sip:example.com';
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? 'c0ffee';
  const qop = o.qop !== false;
  const ha1 = computeHa1(algorithm, username, c.get('realm')!, password);
  const response = computeResponse({ algorithm, ha1, nonce: c.get('nonce')!, method: o.method ?? 'REGISTER', uri, ...(qop ? { qop: 'auth' as const, nc, cnonce } : {}) });
  const parts = [`username="${username}"`, `realm="${c.get('realm')}"`, `nonce="${c.get('nonce')}"`, `uri="${uri}"`, `response="${response}"`, `algorithm=${o.algorithm ?? algorithm}`];
  if (qop) parts.push('qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`);
  return 'Digest ' + parts.join(', ');
}

const REQ = { method: 'REGISTER', uri: 'sip:example.com', ha1Lookup: lookup() };

test('challenge: one header value per algorithm, SHA-256 first, then MD5', () => {
  const { auth } = server();
  const values = auth.challenge();
  assert.equal(values.length, 2);
  const [sha, md5] = values.map((v) => parseAuth(v));
  assert.equal(sha.scheme, 'Digest');
  assert.equal(sha.params.get('algorithm'), 'SHA-256');
  assert.equal(md5.params.get('algorithm'), 'MD5');
  for (const c of [sha, md5]) {
    assert.equal(c.params.get('realm'), REALM);
    assert.equal(c.params.get('qop'), 'auth');
    assert.match(c.params.get('nonce')!, /^[A-Za-z0-9_-]{75}$/);
    assert.equal(c.params.has('stale'), false);
  }
  assert.notEqual(sha.params.get('nonce'), md5.params.get('nonce'), 'a nonce is bound to its algorithm');
  assert.match(auth.challenge({ stale: true })[0], /, stale=true$/);
  assert.equal(parseAuth(auth.challenge({ realm: 'other.org' })[1]).params.get('realm'), 'other.org');
  assert.equal(server({ algorithms: ['MD5'] }).auth.challenge().length, 1);
});

test('round trip: our challenge, a UA answer, verify → ok (both algorithms)', async () => {
  const { auth } = server();
  for (const challenge of auth.challenge()) {
    const r = await auth.verify(answer(challenge), REQ);
    assert.deepEqual(r, { status: 'ok', username: 'alice', realm: REALM, algorithm: parseAuth(challenge).params.get('algorithm'), variant: 'ha1' });
  }
});

test('ha1b: a user@domain username looks up the ha1b variant', async () => {
  const { auth } = server();
  const calls: Ha1Query[] = [];
  const r = await auth.verify(answer(auth.challenge()[1], { username: 'alice@example.com' }), { ...REQ, ha1Lookup: lookup(calls) });
  assert.equal(r.status, 'ok');
  assert.deepEqual(calls[0], { username: 'alice@example.com', user: 'alice', domain: 'example.com', realm: REALM, algorithm: 'MD5', variant: 'ha1b' });
});

test('expired nonce with a correct digest → stale; with a wrong one → fail', async () => {
  const { auth, clock } = server();
  const ch = auth.challenge()[0];
  clock.t += 300_000;
  assert.equal((await auth.verify(answer(ch), REQ)).status, 'ok', 'exactly 300 s is still fresh');
  const ch2 = auth.challenge()[0];
  clock.t += 300_001;
  assert.deepEqual(await auth.verify(answer(ch2), REQ), { status: 'stale' });
  assert.deepEqual(await auth.verify(answer(ch2, { password: 'wrong' }), REQ), { status: 'fail', reason: 'invalid-credentials' });
  const short = server({ nonceExpires: 10 });
  const ch3 = short.auth.challenge()[0];
  short.clock.t += 10_001;
  assert.deepEqual(await short.auth.verify(answer(ch3), REQ), { status: 'stale' });
});

test('replay: nc must grow per nonce; a qop-less nonce works once', async () => {
  const { auth } = server();
  const ch = auth.challenge()[0];
  assert.equal((await auth.verify(answer(ch, { nc: 1 }), REQ)).status, 'ok');
  assert.deepEqual(await auth.verify(answer(ch, { nc: 1 }), REQ), { status: 'fail', reason: 'replay' });
  assert.equal((await auth.verify(answer(ch, { nc: 2 }), REQ)).status, 'ok');
  assert.equal((await auth.verify(answer(ch, { nc: 5 }), REQ)).status, 'ok');
  assert.deepEqual(await auth.verify(answer(ch, { nc: 4 }), REQ), { status: 'fail', reason: 'replay' });

  const ch2 = auth.challenge()[1];
  assert.equal((await auth.verify(answer(ch2, { qop: false }), REQ)).status, 'ok');
  assert.deepEqual(await auth.verify(answer(ch2, { qop: false }), REQ), { status: 'fail', reason: 'replay' });
  assert.deepEqual(await auth.verify(answer(ch2, { nc: 9 }), REQ), { status: 'fail', reason: 'replay' }, 'used without qop: spent for good');

  const strict = server({ allowNoQop: false });
  assert.deepEqual(await strict.auth.verify(answer(strict.auth.challenge()[0], { qop: false }), REQ), { status: 'fail', reason: 'unsupported' });
});

test('retransmission: the same credentials in the same request within 32 s are accepted again, marked; anything else is a replay', async () => {
  const { auth, clock } = server();
  const ch = auth.challenge()[1];
  const header = answer(ch, { nc: 1 });
  const req = { ...REQ, requestId: 'register-1' };
  assert.equal((await auth.verify(header, req)).status, 'ok');
  const again = await auth.verify(header, req);
  assert.equal(again.status, 'ok');
  assert.equal(again.status === 'ok' && again.retransmission, true, 'marked as a retransmission');
  clock.t += 31_000;
  assert.equal((await auth.verify(header, req)).status, 'ok', 'still within Timer F');
  assert.deepEqual(await auth.verify(header, { ...REQ, requestId: 'register-2' }), { status: 'fail', reason: 'replay' }, 'another request (Call-ID, CSeq, Contact…) with the same credentials');
  assert.deepEqual(await auth.verify(header, REQ), { status: 'fail', reason: 'replay' }, 'without a request identity every repeat is a replay');
  assert.deepEqual(await auth.verify(answer(ch, { nc: 1, cnonce: 'other' }), req), { status: 'fail', reason: 'replay' }, 'other cnonce, same nc');
  clock.t += 2_000;
  assert.deepEqual(await auth.verify(header, req), { status: 'fail', reason: 'replay' }, 'after 32 s even the same request is a replay');

  // A newer nc replaces what is remembered: the older request is then a replay.
  const ch2 = auth.challenge()[1];
  assert.equal((await auth.verify(answer(ch2, { nc: 1 }), { ...REQ, requestId: 'a' })).status, 'ok');
  assert.equal((await auth.verify(answer(ch2, { nc: 2 }), { ...REQ, requestId: 'b' })).status, 'ok');
  assert.deepEqual(await auth.verify(answer(ch2, { nc: 1 }), { ...REQ, requestId: 'a' }), { status: 'fail', reason: 'replay' });
  const b = await auth.verify(answer(ch2, { nc: 2 }), { ...REQ, requestId: 'b' });
  assert.equal(b.status === 'ok' && b.retransmission, true);

  // Without qop (one use per nonce) the same holds.
  const ch3 = auth.challenge()[1];
  const noQop = answer(ch3, { qop: false });
  assert.equal((await auth.verify(noQop, { ...REQ, requestId: 'c' })).status, 'ok');
  assert.equal((await auth.verify(noQop, { ...REQ, requestId: 'c' })).status, 'ok');
  assert.deepEqual(await auth.verify(noQop, { ...REQ, requestId: 'd' }), { status: 'fail', reason: 'replay' });
  // A wrong digest is never a retransmission.
  assert.deepEqual(await auth.verify(answer(ch3, { qop: false, password: 'wrong' }), { ...REQ, requestId: 'c' }), { status: 'fail', reason: 'invalid-credentials' });
});

test('nonce layout: timestamp, 16 random bytes, HMAC-SHA256(secret, head ‖ algorithm id ‖ realm), as before the pads were precomputed', async () => {
  for (const [secret, realm] of [[SECRET, REALM], [Buffer.alloc(100, 9), 'x'.repeat(1500)], [Buffer.alloc(64, 1), 'réalm.example']] as const) {
    const clock = { t: 1_700_000_000_123 };
    const auth = new DigestAuth({ realm, secret, now: () => clock.t });
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const [sha, md5] = auth.challenge().map((c) => Buffer.from(parseAuth(c).params.get('nonce')!, 'base64url'));
      for (const [raw, id] of [[sha, 1], [md5, 2]] as const) {
        assert.equal(raw.length, 56);
        assert.equal(Number(raw.readBigUInt64BE(0)), clock.t);
        const mac = createHmac('sha256', secret).update(raw.subarray(0, 24)).update(Buffer.of(id)).update(realm, 'utf8').digest();
        assert.deepEqual(raw.subarray(24), mac);
        const rnd = raw.subarray(8, 24).toString('hex');
        assert.ok(!seen.has(rnd), 'random bytes never reused');
        seen.add(rnd);
      }
    }
    const ch = auth.challenge()[1];
    assert.equal((await auth.verify(answer(ch), { ...REQ, realm })).status, 'ok', 'and it verifies');
  }
});

test('replay: concurrent verifications of the same nc accept exactly one', async () => {
  const { auth } = server();
  const ch = auth.challenge()[0];
  const slow = async (q: Ha1Query) => {
    await new Promise((r) => setTimeout(r, 5));
    return lookup()(q);
  };
  const header = answer(ch);
  const results = await Promise.all([1, 2, 3].map(() => auth.verify(header, { ...REQ, ha1Lookup: slow })));
  assert.deepEqual(results.map((r) => r.status).sort(), ['fail', 'fail', 'ok']);
});

test('replay cache eviction never re-opens a replay: forgotten nonces turn stale', async () => {
  const { auth, clock } = server({ replayCacheSize: 2 });
  const nonces: string[] = [];
  for (let i = 0; i < 3; i++) {
    nonces.push(auth.challenge()[0]);
    clock.t += 1000;
  }
  for (const ch of nonces) assert.equal((await auth.verify(answer(ch), REQ)).status, 'ok');
  assert.equal(auth.replayCacheEntries, 2);
  // nonces[0] was evicted: even a higher nc is not trusted, the client gets a fresh nonce
  assert.deepEqual(await auth.verify(answer(nonces[0], { nc: 1 }), REQ), { status: 'stale' });
  assert.deepEqual(await auth.verify(answer(nonces[0], { nc: 7 }), REQ), { status: 'stale' });
  assert.equal((await auth.verify(answer(nonces[2], { nc: 2 }), REQ)).status, 'ok', 'remembered nonces keep working');
  assert.equal((await auth.verify(answer(auth.challenge()[0]), REQ)).status, 'ok', 'new nonces are fine');
});

test('tampered, foreign or misused nonces → fail bad-nonce', async () => {
  const { auth } = server();
  const [sha, md5] = auth.challenge();
  const nonce = parseAuth(sha).params.get('nonce')!;
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (const i of [0, 5, 11, 20, 40, 74]) {
    assert.deepEqual(await auth.verify(answer(sha.replace(nonce, flip(nonce, i))), REQ), { status: 'fail', reason: 'bad-nonce' }, `byte ${i}`);
  }
  for (const bogus of ['', 'abc', nonce + 'A', nonce.slice(1), nonce.replace(/.$/, '='), nonce.slice(0, 74) + '+']) {
    assert.deepEqual(await auth.verify(answer(sha.replace(nonce, bogus)), REQ), { status: 'fail', reason: 'bad-nonce' }, JSON.stringify(bogus));
  }
  // A nonce from another server (other secret)
  const other = new DigestAuth({ realm: REALM, secret: randomBytes(32) });
  assert.deepEqual(await auth.verify(answer(other.challenge()[0]), REQ), { status: 'fail', reason: 'bad-nonce' });
  // The MD5 challenge's nonce answered with SHA-256
  const md5Nonce = parseAuth(md5).params.get('nonce')!;
  assert.deepEqual(await auth.verify(answer(sha.replace(nonce, md5Nonce)), REQ), { status: 'fail', reason: 'bad-nonce' });
  // A nonce issued for another realm
  const otherRealm = auth.challenge({ realm: 'other.org' })[0].replace('realm="other.org"', `realm="${REALM}"`);
  assert.deepEqual(await auth.verify(answer(otherRealm), REQ), { status: 'fail', reason: 'bad-nonce' });
});

test('unknown user and wrong password: identical result, lookup made, same work', async () => {
  const { auth } = server();
  const ch = auth.challenge()[0];
  const calls: Ha1Query[] = [];
  const unknown = await auth.verify(answer(ch, { username: 'mallory', password: 'x' }), { ...REQ, ha1Lookup: lookup(calls) });
  const wrong = await auth.verify(answer(ch, { username: 'alice', password: 'x' }), { ...REQ, ha1Lookup: lookup(calls) });
  assert.deepEqual(unknown, wrong);
  assert.deepEqual(unknown, { status: 'fail', reason: 'invalid-credentials' });
  assert.equal(calls.length, 2);
  // a broken stored hash is treated as no hash, with the same answer
  const broken = await auth.verify(answer(ch, { nc: 2 }), { ...REQ, ha1Lookup: () => 'not-hex' });
  assert.deepEqual(broken, unknown);

  // Same work on both paths, by construction rather than by a stopwatch: each checks the nonce's
  // MAC and then compares a computed response (a dummy HA1 for the unknown user) with the one
  // sent, in crypto.timingSafeEqual over equal lengths. Timing the two would measure the load.
  const headers = { unknown: answer(ch, { username: 'mallory', password: 'x', nc: 3 }), wrong: answer(ch, { username: 'alice', password: 'x', nc: 4 }) };
  const spy = spyTimingSafeEqual();
  let unknownCalls: TimingSafeEqualCall[];
  let wrongCalls: TimingSafeEqualCall[];
  try {
    assert.deepEqual(await auth.verify(headers.unknown, REQ), { status: 'fail', reason: 'invalid-credentials' });
    unknownCalls = spy.calls.splice(0);
    assert.deepEqual(await auth.verify(headers.wrong, REQ), { status: 'fail', reason: 'invalid-credentials' });
    wrongCalls = spy.calls.splice(0);
  } finally {
    spy.restore();
  }
  assert.deepEqual(unknownCalls.map((c) => c.lengths), wrongCalls.map((c) => c.lengths), 'the same comparisons on both paths');
  assert.deepEqual(unknownCalls.at(-1), { lengths: [64, 64], result: false }, 'unknown user: a full SHA-256 response compared');
  assert.deepEqual(wrongCalls.at(-1), { lengths: [64, 64], result: false }, 'wrong password: a full SHA-256 response compared');
});

test('malformed and unsupported credentials', async () => {
  const { auth } = server();
  const ch = auth.challenge()[0];
  const good = answer(ch);
  const cases: Array<[string, string]> = [
    ['Basic realm="x"', 'unsupported'],
    ['Digest', 'malformed'],
    ['Digest username=', 'malformed'],
    [good.replace(/username="[^"]*", /, ''), 'malformed'],
    [good.replace('username="alice"', 'username=""'), 'malformed'],
    [good.replace(/response="[^"]*"/, 'response="abc"'), 'malformed'],
    [good.replace(/response="[^"]*"/, `response="${'z'.repeat(64)}"`), 'malformed'],
    [good.replace('nc=00000001', 'nc=1'), 'malformed'],
    [good.replace('nc=00000001', 'nc=00000000'), 'malformed'],
    [good.replace(', cnonce="c0ffee"', ''), 'malformed'],
    [good.replace('qop=auth', 'qop=auth-int'), 'unsupported'],
    [good.replace('qop=auth', 'qop=bogus'), 'malformed'],
    [good.replace('algorithm=SHA-256', 'algorithm=SHA-512-256'), 'unsupported'],
    [good.replace('algorithm=SHA-256', 'algorithm=MD5-sess'), 'unsupported'],
    [good + ', userhash=true', 'unsupported'],
    [good.replace(`realm="${REALM}"`, 'realm="evil.example"'), 'realm-mismatch'],
    [good.replace('uri="sip:example.com"', 'uri="sip:other.example"'), 'uri-mismatch'],
  ];
  for (const [header, reason] of cases) assert.deepEqual(await auth.verify(header, REQ), { status: 'fail', reason }, header);
  // without qop, nc and cnonce must not appear
  const noQop = answer(ch, { qop: false });
  assert.deepEqual(await auth.verify(noQop + ', nc=00000001', REQ), { status: 'fail', reason: 'malformed' });
  // lower-case algorithm names are accepted; a parsed AuthValue works too
  assert.equal((await auth.verify(parseAuth(good.replace('algorithm=SHA-256', 'algorithm=sha-256')), REQ)).status, 'ok');
  // SHA-256 switched off: its answers are refused
  const md5Only = server({ algorithms: ['MD5'] });
  assert.deepEqual(await md5Only.auth.verify(good, REQ), { status: 'fail', reason: 'unsupported' });
  // no uri check when the caller passes none
  assert.equal((await auth.verify(answer(auth.challenge()[0], { uri: 'sip:x.example' }), { method: 'REGISTER', ha1Lookup: lookup() })).status, 'ok');
  // the method is part of HA2
  assert.deepEqual(await auth.verify(answer(auth.challenge()[0], { method: 'INVITE' }), REQ), { status: 'fail', reason: 'invalid-credentials' });
});

test('a lookup failure (database down) propagates instead of looking like bad credentials', async () => {
  const { auth } = server();
  await assert.rejects(auth.verify(answer(auth.challenge()[0]), { ...REQ, ha1Lookup: () => Promise.reject(new Error('db down')) }), /db down/);
});

test('constructor validation and close()', async () => {
  assert.throws(() => new DigestAuth({ realm: REALM, secret: Buffer.alloc(16) }), ValidationError);
  assert.throws(() => new DigestAuth({ realm: REALM, secret: SECRET, nonceExpires: 0 }), ValidationError);
  assert.throws(() => new DigestAuth({ realm: REALM, secret: SECRET, algorithms: [] }), ValidationError);
  assert.throws(() => new DigestAuth({ realm: REALM, secret: SECRET, algorithms: ['SHA-1' as DigestAlgorithm] }), ValidationError);
  assert.throws(() => new DigestAuth({ realm: REALM, secret: SECRET, replayCacheSize: 0 }), ValidationError);
  const secret = Buffer.alloc(32, 9);
  const auth = new DigestAuth({ realm: REALM, secret });
  secret.fill(1); // the caller's buffer is copied
  const ch = auth.challenge()[0];
  assert.equal((await auth.verify(answer(ch), REQ)).status, 'ok');
  auth.close();
  assert.deepEqual(await auth.verify(answer(ch, { nc: 2 }), REQ), { status: 'fail', reason: 'bad-nonce' }, 'wiped key: nothing verifies');
});
