// sipctl web, the built binary, over HTTP against SQLite and a real sipd (and MariaDB at the end): accounts made with
// `sipctl web user add` (0600 file, scrypt hashes only), login and its lockout (429), CSRF (403,
// nothing changed), a viewer changing nothing, subscribers added and removed with their `command`,
// a sipsak registration on the location page and removed from it, an unban, the dashboard and its
// event stream, security headers, `..` refused, and a non-loopback --listen without TLS refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { SchemaSet } from '../helpers/json-schema.js';
import { requireTools } from '../helpers/require.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';
import { REPO } from '../helpers/cli.js';
import { WebClient, request, startWeb, type WebProcess } from '../unit/web/web-process.js';

const SIP_PW = 'Tr0ub4dor-Horse-77';
const OPS_PW = 'Operator-pass-2026';
const NOC_PW = 'Viewer-pass-2026';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

describe('sipctl web against SQLite and a running sipd', () => {
  before(() => requireTools('sipsak'));
  const schemas = new SchemaSet(join(REPO, 'schemas'));
  let dir: string;
  let sipd: SipdProcess;
  let env: NodeJS.ProcessEnv;
  let web: WebProcess;
  const s = (args: string[], input?: string) => runSipctl(args, { env, input });

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipctl-web-'));
    const dbUrl = await makeDb(dir);
    const db = await openDatabase(dbUrl);
    try {
      await addSubscriber(db, 'bob', '127.0.0.1', SIP_PW, { hash: 'md5', storePlaintext: false });
    } finally {
      await db.close();
    }
    sipd = await startSipd({ dbUrl });
    env = isolatedEnv({ SIPCTL_DB: dbUrl, SIPCTL_RPC: sipd.rpcUrl, SIPCTL_DOMAIN: '127.0.0.1', NO_COLOR: '1' });
  });
  after(async () => {
    await web?.stop();
    if (sipd?.child.exitCode === null) await sipd.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (env?.HOME) rmSync(env.HOME, { recursive: true, force: true });
  });

  test('web user add/list/rm: the accounts file is 0600 and holds scrypt hashes, no password', async () => {
    const none = await s(['web']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /^sipctl: there are no web console accounts yet \(add one with `sipctl web user add NAME --role operator`\)\n$/);

    const ops = await s(['web', 'user', 'add', 'ops', '--role', 'operator', '--password-stdin', '--json'], OPS_PW);
    assert.equal(ops.code, 0, ops.stderr);
    assert.deepEqual(schemas.validate('web-user-add.json', JSON.parse(ops.stdout)), []);
    const noc = await s(['web', 'user', 'add', 'noc', '--password-stdin'], NOC_PW + '\n');
    assert.equal(noc.code, 0, noc.stderr);
    const tmp = await s(['web', 'user', 'add', 'tmp', '--password-stdin'], 'Temporary-pass-1');
    assert.equal(tmp.code, 0, tmp.stderr);

    const again = await s(['web', 'user', 'add', 'ops', '--password-stdin'], OPS_PW);
    assert.equal(again.code, 4, again.stderr);
    const weak = await s(['web', 'user', 'add', 'eve', '--password-stdin'], 'short');
    assert.equal(weak.code, 2, weak.stderr);
    assert.equal(weak.stderr.split('\n').filter(Boolean).length, 1);
    const noTty = await s(['web', 'user', 'add', 'eve']);
    assert.equal(noTty.code, 2, 'no terminal to ask on: a usage error naming --password-stdin');
    assert.match(noTty.stderr, /--password-stdin/);
    const argv = await s(['web', 'user', 'add', 'eve', 'Password-on-argv-1']);
    assert.equal(argv.code, 2, 'a password on the command line is not accepted');

    const file = join(env.XDG_CONFIG_HOME!, 'sipctl', 'web-users.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    for (const pw of [OPS_PW, NOC_PW, 'Temporary-pass-1']) assert.ok(!text.includes(pw), 'no password in the accounts file');
    const doc = JSON.parse(text) as { users: Array<Record<string, string>> };
    assert.deepEqual(doc.users.map((u) => Object.keys(u).sort()), [0, 1, 2].map(() => ['created', 'hash', 'name', 'role']));
    for (const u of doc.users) assert.match(u.hash!, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);

    const list = await s(['web', 'user', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout);
    assert.deepEqual(schemas.validate('web-user-list.json', listed), []);
    assert.deepEqual(listed.users.map((u: { name: string; role: string }) => `${u.name}:${u.role}`), ['noc:viewer', 'ops:operator', 'tmp:viewer']);
    assert.ok(!list.stdout.includes('scrypt'), 'list never shows hashes');

    const rmNoYes = await s(['web', 'user', 'rm', 'tmp']);
    assert.equal(rmNoYes.code, 2, 'destructive: --yes without a terminal');
    const rm = await s(['web', 'user', 'rm', 'tmp', '--yes', '--json']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual(schemas.validate('web-user-rm.json', JSON.parse(rm.stdout)), []);
    const rmGone = await s(['web', 'user', 'rm', 'tmp', '--yes']);
    assert.equal(rmGone.code, 3, rmGone.stderr);
  });

  test('a --listen beyond loopback without TLS is a usage error, one line', async () => {
    const r = await s(['web', '--listen', '0.0.0.0:8088']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
    assert.match(r.stderr, /^sipctl: --listen 0\.0\.0\.0:8088 is not a loopback address and needs --tls-cert and --tls-key/);
    const bad = await s(['web', '--listen', 'nonsense']);
    assert.equal(bad.code, 2, bad.stderr);
  });

  test('beyond loopback with --tls-cert/--tls-key: HTTPS, Secure cookie, HSTS', async () => {
    const tlsDir = join(dir, 'tls');
    const cert = await s(['tls', 'selfsigned', '--cn', 'localhost', '--san', '127.0.0.1', '--out-dir', tlsDir]);
    assert.equal(cert.code, 0, cert.stderr);
    const onlyCert = await s(['web', '--listen', '0.0.0.0:0', '--tls-cert', join(tlsDir, 'cert.pem')]);
    assert.equal(onlyCert.code, 2, 'a certificate without its key is a usage error');
    const w = await startWeb(env, ['--tls-cert', join(tlsDir, 'cert.pem'), '--tls-key', join(tlsDir, 'key.pem')], '0.0.0.0:0');
    try {
      assert.match(w.url, /^https:\/\/localhost:\d+\/$/);
      const ca = readFileSync(join(tlsDir, 'cert.pem'), 'utf8');
      const login = await request(w.url, 'POST', '/api/login', { ca, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'ops', password: OPS_PW }) });
      assert.equal(login.status, 200, login.text);
      assert.match(String(login.headers['set-cookie']), /^sipctl_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
      assert.match(String(login.headers['strict-transport-security']), /^max-age=\d+/);
      assert.equal(login.headers['content-security-policy'], CSP);
    } finally {
      assert.equal(await w.stop(), 0, w.output());
    }
  });

  test('serving: headers, login, CSRF, roles, subscribers, location, bans, dashboard, events, logout, lockout', async () => {
    web = await startWeb(env);
    assert.match(web.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.deepEqual(schemas.validate('web.json', { url: web.url }), [], 'what --json printed');

    // --- headers, static files, unauthenticated
    const index = await request(web.url, 'GET', '/');
    assert.equal(index.status, 200, index.text);
    assert.equal(index.headers['content-security-policy'], CSP);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['referrer-policy'], 'no-referrer');
    assert.match(String(index.headers['content-type']), /^text\/html/);
    for (const p of ['/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/../package.json']) {
      const r = await request(web.url, 'GET', p);
      assert.equal(r.status, 400, `${p}: ${r.status} ${r.text}`);
      assert.equal(r.json.error.code, 'BAD_PATH');
      assert.ok(!r.text.includes('"name": "sipctl"'));
    }
    assert.equal((await request(web.url, 'GET', '/assets/')).status, 400, 'no directory listing');
    const rebound = await request(web.url, 'GET', '/api/session', { headers: { Host: `attacker.example:${new URL(web.url).port}` } });
    assert.equal(rebound.status, 421, 'a name that was made to resolve to 127.0.0.1 (DNS rebinding) is not served');
    assert.equal(rebound.json.error.code, 'BAD_HOST');
    assert.equal((await request(web.url, 'GET', '/', { headers: { Host: `localhost:${new URL(web.url).port}` } })).status, 200);
    const anon = new WebClient(web.url);
    const noSession = await anon.call('GET', '/api/session');
    assert.equal(noSession.status, 401);
    assert.equal(noSession.headers['content-security-policy'], CSP);
    assert.equal(noSession.headers['cache-control'], 'no-store');
    assert.deepEqual(noSession.json, { error: { code: 'UNAUTHENTICATED', message: 'not logged in' } });
    assert.equal((await anon.call('GET', '/api/subscribers')).status, 401);
    assert.equal((await anon.call('POST', '/api/subscribers', { aor: 'mallory@127.0.0.1' })).status, 401);

    // --- login
    const ops = new WebClient(web.url);
    const login = await ops.login('ops', OPS_PW);
    assert.equal(login.status, 200, login.text);
    assert.deepEqual(login.json.data.user, { name: 'ops', role: 'operator' });
    const cookie = String(login.headers['set-cookie']);
    assert.match(cookie, /^sipctl_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
    const sess = await ops.call('GET', '/api/session');
    assert.equal(sess.status, 200);
    assert.equal(sess.json.data.csrf, ops.csrf);

    // --- CSRF: refused, nothing changed
    const noCsrf = await ops.call('POST', '/api/subscribers', { aor: 'carol@127.0.0.1', password: 'Tulip-river-2026' }, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json.error.code, 'CSRF_TOKEN');
    const wrongCsrf = await ops.call('DELETE', '/api/subscribers/bob@127.0.0.1', undefined, { csrf: false, headers: { 'X-CSRF-Token': 'x'.repeat(43) } });
    assert.equal(wrongCsrf.status, 403);
    const foreign = await ops.call('POST', '/api/subscribers', { aor: 'carol@127.0.0.1' }, { headers: { Origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json.error.code, 'CSRF_ORIGIN');
    assert.equal((await s(['show', 'carol@127.0.0.1'])).code, 3, 'carol was not added');
    assert.equal((await s(['show', 'bob@127.0.0.1'])).code, 0, 'bob is still there');

    // --- subscribers: add (given / generated), list, passwd, remove, each with its command line
    const add = await ops.call('POST', '/api/subscribers', { aor: 'carol@127.0.0.1', password: 'Tulip-river-2026' });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.json.command, 'sipctl add carol@127.0.0.1');
    assert.equal(add.json.data.action, 'add');
    assert.equal(add.json.data.password, undefined, 'a given password is never sent back');
    assert.ok(!add.text.includes('Tulip-river-2026'));
    const cli = await s(['add', 'frank@127.0.0.1', '--password-stdin', '--dry-run', '--json'], 'Tulip-river-2026');
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(add.json.warnings, JSON.parse(cli.stdout).warnings, 'the storage-mode warnings the CLI gives');
    assert.equal(add.json.data.storedPlaintext, JSON.parse(cli.stdout).storedPlaintext);
    assert.equal((await s(['show', 'carol@127.0.0.1'])).code, 0);
    const dup = await ops.call('POST', '/api/subscribers', { aor: 'carol@127.0.0.1', password: 'Tulip-river-2026' });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.code, 'SUBSCRIBER_EXISTS');
    const weak = await ops.call('POST', '/api/subscribers', { aor: 'dave@127.0.0.1', password: '12345678' });
    assert.equal(weak.status, 400, weak.text);
    const gen = await ops.call('POST', '/api/subscribers', { aor: 'dave' });
    assert.equal(gen.status, 200, gen.text);
    assert.equal(gen.json.command, 'sipctl add dave@127.0.0.1 --generate');
    assert.match(gen.json.data.password, /^\S{20}$/);
    const listed = await ops.call('GET', '/api/subscribers?q=a&limit=2');
    assert.equal(listed.status, 200);
    assert.equal(listed.json.data.total, 2, 'carol and dave');
    assert.deepEqual(listed.json.data.items.map((i: { username: string }) => i.username), ['carol', 'dave']);
    assert.equal((await ops.call('GET', '/api/subscribers?limit=501')).status, 400);
    const pw = await ops.call('PUT', '/api/subscribers/dave%40127.0.0.1/password', {});
    assert.equal(pw.status, 200, pw.text);
    assert.equal(pw.json.command, 'sipctl passwd dave@127.0.0.1 --generate');
    const rm = await ops.call('DELETE', '/api/subscribers/carol%40127.0.0.1');
    assert.equal(rm.status, 200, rm.text);
    assert.equal(rm.json.command, 'sipctl rm carol@127.0.0.1 --yes');
    assert.equal((await s(['show', 'carol@127.0.0.1'])).code, 3);
    const rmGone = await ops.call('DELETE', '/api/subscribers/carol%40127.0.0.1');
    assert.equal(rmGone.status, 404);
    assert.equal(rmGone.json.error.code, 'SUBSCRIBER_NOT_FOUND');

    // --- a viewer reads but changes nothing (with a valid CSRF token)
    const noc = new WebClient(web.url);
    assert.equal((await noc.login('noc', NOC_PW)).status, 200);
    assert.equal((await noc.call('GET', '/api/subscribers')).status, 200);
    for (const [method, path, body] of [
      ['POST', '/api/subscribers', { aor: 'eve@127.0.0.1', password: 'Eve-pass-20266' }],
      ['DELETE', '/api/subscribers/bob%40127.0.0.1', undefined],
      ['PUT', '/api/subscribers/bob%40127.0.0.1/password', {}],
      ['DELETE', '/api/bans/ipban/203.0.113.7', undefined],
      ['POST', '/api/domains', { domain: 'example.org' }],
    ] as const) {
      const r = await noc.call(method, path, body);
      assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
      assert.equal(r.json.error.code, 'FORBIDDEN');
    }
    assert.equal((await s(['show', 'eve@127.0.0.1'])).code, 3);
    assert.equal((await s(['show', 'bob@127.0.0.1'])).code, 0);

    // --- location: bob registers with sipsak, shows up, one contact removed
    const contactPort = await freeSipPort();
    const reg = await sipsakRegister({ user: 'bob', password: SIP_PW, domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: sipd.sipPort, contactPort, expires: 300 });
    assert.ok(reg.ok, reg.stdout + reg.stderr);
    const loc = await noc.call('GET', '/api/location?q=bob');
    assert.equal(loc.status, 200, loc.text);
    assert.equal(loc.json.data.total, 1, loc.text);
    const c = loc.json.data.items[0];
    assert.equal(c.aor, 'bob', 'sipd keeps AoRs without the domain (use_domain off, as Kamailio by default)');
    assert.equal(c.contact, `sip:bob@127.0.0.1:${contactPort}`);
    assert.equal(typeof c.expires, 'number');
    assert.equal(typeof c.node, 'string');
    const rmLoc = await ops.call('DELETE', `/api/location?aor=${encodeURIComponent(c.aor)}&contact=${encodeURIComponent(c.contact)}`);
    assert.equal(rmLoc.status, 200, rmLoc.text);
    assert.equal(rmLoc.json.command, `sipctl ul rm bob sip:bob@127.0.0.1:${contactPort} --yes`);
    assert.equal(rmLoc.json.data.nodes[0].ok, true);
    assert.equal((await noc.call('GET', '/api/location')).json.data.total, 0);

    // --- bans: one ipban key, listed, lifted with `sipctl unban`
    const seti = await s(['htable', 'seti', 'ipban', '203.0.113.7', '1']);
    assert.equal(seti.code, 0, seti.stderr);
    const bans = await noc.call('GET', '/api/bans');
    assert.equal(bans.status, 200, bans.text);
    assert.deepEqual(bans.json.data.items.map((b: { table: string; key: string }) => `${b.table} ${b.key}`), ['ipban 203.0.113.7']);
    assert.equal(typeof bans.json.data.items[0].expires, 'string');
    const unban = await ops.call('DELETE', '/api/bans/ipban/203.0.113.7');
    assert.equal(unban.status, 200, unban.text);
    assert.equal(unban.json.command, 'sipctl unban 203.0.113.7');
    assert.equal(unban.json.data.nodes[0].result.ipban, true);
    assert.equal((await s(['htable', 'get', 'ipban', '203.0.113.7'])).code, 3, 'the key is gone from sipd');
    assert.equal((await ops.call('DELETE', '/api/bans/ipban/not-an-ip')).status, 400);

    // --- dashboard and its event stream
    const dash = await noc.call('GET', '/api/dashboard');
    assert.equal(dash.status, 200, dash.text);
    assert.equal(dash.json.data.nodes.length, 1);
    assert.equal(dash.json.data.nodes[0].ok, true);
    assert.ok(Array.isArray(dash.json.data.bans) && Array.isArray(dash.json.data.alerts));
    assert.deepEqual(dash.json.data.alertErrors, [], 'sipd answers alerts.recent');
    const event = await firstEvent(web.url, noc.cookie!);
    assert.match(event, /^event: dashboard\ndata: \{/m);
    // a sample is at most 2 s old when served: within a few seconds the hour has two points
    let hour: Array<[number, number | null, number | null]> = [];
    for (let i = 0; i < 50 && hour.length < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      const d = await noc.call('GET', '/api/dashboard');
      hour = d.json.data.hour[d.json.data.nodes[0].node];
    }
    assert.ok(hour.length >= 2, `every sample is a point of the hour: ${JSON.stringify(hour)}`);
    assert.ok(hour.every((p, i) => i === 0 || p[0] >= hour[i - 1]![0]), 'oldest first');
    assert.equal(typeof hour[hour.length - 1]![1], 'number', 'requests/s once two samples were taken');
    const nodes = await noc.call('GET', '/api/nodes');
    assert.equal(nodes.status, 200, nodes.text);
    assert.equal(nodes.json.data.items[0].ok, true);

    // --- proxy errors map to 4xx/5xx with one line, no internals
    const noTable = await noc.call('GET', '/api/htable/nosuchtable');
    assert.equal(noTable.status, 404, noTable.text);
    const unknown = await noc.call('GET', '/api/nothing');
    assert.equal(unknown.status, 404);
    const badJson = await request(web.url, 'POST', '/api/subscribers', { headers: { Cookie: ops.cookie!, 'X-CSRF-Token': ops.csrf!, 'Content-Type': 'application/json' }, body: '{' });
    assert.equal(badJson.status, 400);

    // --- logout ends the session
    const out = await noc.call('POST', '/api/logout');
    assert.equal(out.status, 200, out.text);
    assert.equal((await noc.call('GET', '/api/session')).status, 401);

    // --- lockout: 3 wrong passwords for noc from this address → 429, then even the right one
    const wrong1 = await anon.login('noc', 'Wrong-pass-1');
    assert.equal(wrong1.status, 401);
    assert.equal(wrong1.json.error.code, 'BAD_LOGIN');
    const unknownName = await anon.login('nobody', 'Wrong-pass-1');
    assert.deepEqual(unknownName.json, wrong1.json, 'an unknown name gets the same answer');
    assert.equal((await anon.login('noc', 'Wrong-pass-2')).status, 401);
    const locked = await anon.login('noc', 'Wrong-pass-3');
    assert.equal(locked.status, 429, locked.text);
    assert.equal(locked.json.error.code, 'LOGIN_LOCKED');
    assert.ok(Number(locked.headers['retry-after']) > 800, String(locked.headers['retry-after']));
    const right = await anon.login('noc', NOC_PW);
    assert.equal(right.status, 429, 'locked even with the right password');
    assert.equal((await new WebClient(web.url).login('ops', OPS_PW)).status, 200, 'another name from the same address is not locked');
    // parallel guesses are checked one after the other: no more than max_failures get through to a 401
    const burst = await Promise.all(Array.from({ length: 5 }, (_, i) => anon.login('ops', `Wrong-pass-burst-${i}`)));
    assert.deepEqual(burst.map((r) => r.status).sort(), [401, 401, 429, 429, 429]);
    assert.equal((await anon.login('ops', OPS_PW)).status, 429);
    assert.doesNotMatch(web.output(), /Wrong-pass/, 'what was typed is never logged');

    // --- the accounts file changes under a running server: removed account's session ends
    assert.equal((await s(['web', 'user', 'rm', 'ops', '--yes'])).code, 0);
    assert.equal((await ops.call('GET', '/api/subscribers')).status, 401);

    assert.equal(await web.stop(), 0, web.output());
    assert.ok(!web.output().includes(OPS_PW) && !web.output().includes(NOC_PW), 'no password in the server output');
    assert.ok(!web.output().includes(ops.cookie!.split('=')[1]!), 'no session id in the server output');
  });

  test('the other pages: address groups, trusted, domains, htable, calls, CDRs, SIM import with progress, dispatcher/dialplan on a proxy without them', async () => {
    assert.equal((await s(['web', 'user', 'add', 'ops2', '--role', 'operator', '--password-stdin'], OPS_PW)).code, 0);
    const w = await startWeb(env);
    try {
      const ops = new WebClient(w.url);
      assert.equal((await ops.login('ops2', OPS_PW)).status, 200);

      const addr = await ops.call('POST', '/api/address', { group: 200, address: '10.0.1.102', mask: null, port: null, tag: 'carrier <b>1</b>' });
      assert.equal(addr.status, 200, addr.text);
      assert.equal(addr.json.command, "sipctl address add 200 10.0.1.102 32 0 'carrier <b>1</b>'");
      const shown = JSON.parse((await s(['address', 'show', '--json'])).stdout);
      assert.deepEqual(shown.map((r: { grp: number; ip: string; tag: string }) => [r.grp, r.ip, r.tag]), [[200, '10.0.1.102', 'carrier <b>1</b>']]);
      const listed = await ops.call('GET', '/api/address?q=carrier');
      assert.equal(listed.json.data.total, 1);
      assert.equal(listed.json.data.items[0].tag, 'carrier <b>1</b>', 'values travel as data');
      const badAddr = await ops.call('POST', '/api/address', { group: 'x', address: '10.0.1.102' });
      assert.equal(badAddr.status, 400);
      assert.equal(badAddr.json.error.code, 'INVALID_GROUP');
      const reload = await ops.call('POST', '/api/address/reload');
      assert.equal(reload.status, 200, reload.text);
      assert.equal(reload.json.command, 'sipctl address reload');
      assert.equal(reload.json.data.nodes[0].ok, true);
      const rmAddr = await ops.call('DELETE', '/api/address', { group: 200, address: '10.0.1.102' });
      assert.equal(rmAddr.status, 200, rmAddr.text);
      assert.equal(rmAddr.json.command, 'sipctl address rm 200 10.0.1.102 --yes');
      assert.deepEqual(JSON.parse((await s(['address', 'show', '--json'])).stdout), []);

      const tr = await ops.call('POST', '/api/trusted', { srcIp: '192.0.2.20', proto: 'udp', fromPattern: '^sip:.*@carrier\\.example$' });
      assert.equal(tr.status, 200, tr.text);
      assert.equal(tr.json.command, "sipctl trusted add 192.0.2.20 udp '^sip:.*@carrier\\.example$'");
      assert.equal((await ops.call('GET', '/api/trusted')).json.data.total, 1);
      assert.equal((await ops.call('POST', '/api/trusted', { srcIp: '192.0.2.21', fromPattern: '(?=x)' })).status, 400);
      const rmTr = await ops.call('DELETE', '/api/trusted', { srcIp: '192.0.2.20', proto: 'udp' });
      assert.equal(rmTr.status, 200, rmTr.text);
      assert.equal(rmTr.json.command, 'sipctl trusted rm 192.0.2.20 --proto udp --yes');

      const dom = await ops.call('POST', '/api/domains', { domain: 'Sip.Example.com' });
      assert.equal(dom.status, 200, dom.text);
      assert.equal(dom.json.command, 'sipctl domain add sip.example.com');
      assert.deepEqual((await ops.call('GET', '/api/domains')).json.data.items.map((d: { domain: string }) => d.domain), ['sip.example.com']);
      assert.equal((await ops.call('POST', '/api/domains', { domain: 'sip.example.com' })).status, 409);
      const rmDom = await ops.call('DELETE', '/api/domains/sip.example.com');
      assert.equal(rmDom.status, 200, rmDom.text);
      assert.equal(rmDom.json.command, 'sipctl domain rm sip.example.com --yes');

      const tables = await ops.call('GET', '/api/htable');
      assert.equal(tables.status, 200, tables.text);
      assert.ok(tables.json.data.items.some((t: { name: string }) => t.name === 'ipban'));
      assert.equal((await s(['htable', 'sets', 'ipban', '<script>alert(1)</script>', 'x'])).code, 0);
      const entries = await ops.call('GET', '/api/htable/ipban?q=script');
      assert.equal(entries.status, 200, entries.text);
      assert.equal(entries.json.data.items[0].key, '<script>alert(1)</script>', 'a key from the network is JSON data');
      assert.match(String(entries.headers['content-type']), /^application\/json/);

      const calls = await ops.call('GET', '/api/calls');
      assert.equal(calls.status, 200, calls.text);
      assert.deepEqual(calls.json.data, { total: 0, items: [] });
      assert.equal((await ops.call('DELETE', '/api/calls/no-such-call')).status, 404);
      const cdrs = await ops.call('GET', '/api/cdrs?from=7d');
      assert.equal(cdrs.status, 200, cdrs.text);
      assert.deepEqual(cdrs.json.data, { total: 0, items: [] });
      const perHour = await ops.call('GET', '/api/cdrs/per-hour?from=3h');
      assert.equal(perHour.status, 200, perHour.text);
      assert.ok(perHour.json.data.length >= 3 && perHour.json.data.length <= 4, perHour.text);
      assert.ok(perHour.json.data.every((h: { calls: number }) => h.calls === 0));
      assert.equal((await ops.call('GET', '/api/cdrs?from=yesterday-ish')).status, 400);

      // SIM import: the vendor CSV as the body; the job is polled until done; keys come back masked
      const csv = readFileSync(join(REPO, 'test', 'fixtures', 'sim', 'sims-opc.csv'));
      const imp = await request(w.url, 'POST', '/api/sim/import?format=csv', { headers: { Cookie: ops.cookie!, 'X-CSRF-Token': ops.csrf!, 'Content-Type': 'text/csv' }, body: csv });
      assert.equal(imp.status, 200, imp.text);
      const job = imp.json.data.job as string;
      let st: { done: boolean; imported: number; total: number; errors: unknown[] } | undefined;
      for (let i = 0; i < 100 && !st?.done; i++) {
        st = (await ops.call('GET', `/api/sim/import/${job}`)).json.data;
        if (!st!.done) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(st?.done, 'the import finished');
      assert.ok(st!.imported > 0 && st!.imported === st!.total, JSON.stringify(st));
      assert.deepEqual(st!.errors, []);
      const sims = await ops.call('GET', '/api/sim?q=00101');
      assert.equal(sims.status, 200, sims.text);
      assert.equal(sims.json.data.total, st!.imported);
      assert.ok(sims.json.data.items.every((x: { ki: string; opc: string }) => x.ki === '****' && x.opc === '****'), 'keys masked as the CLI masks them');
      assert.ok(!sims.text.toLowerCase().includes('05fa9808d0b21d95dfb9a45d5e4ff46d'));
      assert.equal((await ops.call('GET', '/api/sim/import/nosuchjob')).status, 404);

      // sipd has neither dispatcher nor dialplan: the table still lists, the proxy's part is a warning or an RPC error
      assert.equal((await s(['dispatcher', 'add', '1', 'sip:192.0.2.30:5060'])).code, 0);
      const disp = await ops.call('GET', '/api/dispatcher');
      assert.equal(disp.status, 200, disp.text);
      assert.equal(disp.json.data.items[0].destination, 'sip:192.0.2.30:5060');
      assert.equal(disp.json.data.items[0].state, undefined);
      assert.equal(disp.json.warnings.length, 1, disp.text);
      const setState = await ops.call('POST', '/api/dispatcher/state', { setid: 1, destination: 'sip:192.0.2.30:5060', state: 'inactive' });
      assert.equal(setState.status, 502, setState.text);
      assert.equal((await ops.call('POST', '/api/dispatcher/state', { setid: 1, destination: 'sip:192.0.2.30:5060', state: 'asleep' })).status, 400);
    } finally {
      assert.equal(await w.stop(), 0, w.output());
    }
  });
});

describe('sipctl web against MariaDB (no proxy running)', () => {
  let t: TestDb;
  let env: NodeJS.ProcessEnv;
  let web: WebProcess | undefined;

  before(async () => {
    assertBuilt();
    t = await createTestDb('mysql');
    // the proxy is down: pages that need it answer 502, the database pages work
    env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: 'http://127.0.0.1:9/RPC', SIPCTL_DOMAIN: 'sip.example.com', NO_COLOR: '1' });
    assert.equal((await runSipctl(['web', 'user', 'add', 'ops', '--role', 'operator', '--password-stdin'], { env, input: OPS_PW })).code, 0);
  });
  after(async () => {
    await web?.stop();
    await t?.drop();
    if (env?.HOME) rmSync(env.HOME, { recursive: true, force: true });
  });

  test('subscribers through the console land in MariaDB as the CLI writes them; proxy pages say the proxy is unreachable', async () => {
    web = await startWeb(env);
    const ops = new WebClient(web.url);
    assert.equal((await ops.login('ops', OPS_PW)).status, 200);
    const add = await ops.call('POST', '/api/subscribers', { aor: 'erin', password: 'Tulip-river-2026' });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.json.command, 'sipctl add erin@sip.example.com');
    const show = await runSipctl(['show', 'erin@sip.example.com', '--json', '--reveal'], { env });
    assert.equal(show.code, 0, show.stderr);
    const { createHash } = await import('node:crypto');
    assert.equal(JSON.parse(show.stdout).ha1, createHash('md5').update('erin:sip.example.com:Tulip-river-2026').digest('hex'), 'the same ha1 the CLI computes');
    const list = await ops.call('GET', '/api/subscribers?q=ri');
    assert.deepEqual(list.json.data.items.map((i: { username: string }) => i.username), ['erin']);
    const like = await ops.call('GET', '/api/subscribers?q=%25');
    assert.equal(like.json.data.total, 0, '"%" is a character to look for, not a LIKE wildcard');
    const noCsrf = await ops.call('DELETE', '/api/subscribers/erin', undefined, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal((await runSipctl(['show', 'erin@sip.example.com'], { env })).code, 0);
    const rm = await ops.call('DELETE', '/api/subscribers/erin');
    assert.equal(rm.status, 200, rm.text);
    assert.equal(rm.json.command, 'sipctl rm erin@sip.example.com --yes');
    assert.equal((await runSipctl(['show', 'erin@sip.example.com'], { env })).code, 3);

    const loc = await ops.call('GET', '/api/location');
    assert.equal(loc.status, 502, loc.text);
    assert.equal(loc.json.error.code, 'RPC_UNREACHABLE');
    assert.equal(Object.keys(loc.json.error).filter((k) => !['code', 'message', 'hint'].includes(k)).length, 0);
    const dash = await ops.call('GET', '/api/dashboard');
    assert.equal(dash.status, 200, 'the dashboard reports a node that does not answer, it does not fail');
    assert.equal(dash.json.data.nodes[0].ok, false);
    assert.equal(await web.stop(), 0, web.output());
    web = undefined;
  });
});

/** The first server-sent event of /api/events. */
function firstEvent(base: string, cookie: string): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: u.hostname, port: u.port, path: '/api/events', headers: { Cookie: cookie, Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`));
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      let buf = '';
      res.setEncoding('utf8').on('data', (d) => {
        buf += d;
        const i = buf.indexOf('event: dashboard');
        if (i >= 0 && buf.indexOf('\n\n', i) > 0) {
          req.destroy();
          resolve(buf.slice(i));
        }
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    setTimeout(() => {
      req.destroy();
      reject(new Error('no dashboard event within 15 s'));
    }, 15_000).unref();
  });
}
