/**
 * A subscriber change is live on the proxy at once (core/subscribers/credential-reload.ts): the
 * built `sipctl add|passwd|rm` and `batch` against a running sipd whose credential cache would
 * otherwise wait an hour (cache_refresh 3600), with sipsak REGISTERs as the oracle; Kamailio (the
 * lab config, which reads the table per request and has no auth.reloadCredentials): no warning;
 * a proxy that is down: a warning, exit 0, the row written.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { findFreePort, startKamailio, stopAllKamailio, type KamailioInstance } from '../helpers/kamailio.js';
import { requireTools } from '../helpers/require.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { freeSipPort, makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';
import { makeProxyDb, type ProxyDb } from '../interop/rpc-target.js';

after(stopAllKamailio);

const DOMAIN = '127.0.0.1';
/** What sipctl says when a proxy could not reload its credentials. */
const RELOAD_WARNING = /reloadCredentials|cache_refresh/;
/** sipsak's exit for a refused REGISTER: 2 for a second 401, 1 for a 403 (test/helpers/sip-tools.ts); 3 = nothing answered. */
const refused = (r: { ok: boolean; code: number }) => !r.ok && (r.code === 1 || r.code === 2);

describe('subscriber changes are live on sipd at once', () => {
  let dir: string;
  let sipd: SipdProcess;
  let env: NodeJS.ProcessEnv;
  const sipctl = (args: string[], input?: string, extra: Record<string, string> = {}) => runSipctl(args, { env: { ...env, ...extra }, input, timeoutMs: 30_000 });
  const register = async (user: string, password: string) =>
    sipsakRegister({ user, password, domain: DOMAIN, proxyHost: '127.0.0.1', proxyPort: sipd.sipPort, contactPort: await freeSipPort(), expires: 60 });

  before(async () => {
    requireTools('sipsak');
    dir = mkdtempSync(join(tmpdir(), 'sipctl-live-'));
    const dbUrl = await makeDb(dir);
    // An hour between refreshes: only the reload sipctl asks for can make a change count.
    sipd = await startSipd({ dbUrl, config: { modules: { scanner: { user_agents: ['friendly-scanner'] }, 'auth-db': { cache_refresh: 3600 } } } });
    env = isolatedEnv({ SIPCTL_DB: dbUrl, SIPCTL_DOMAIN: DOMAIN, SIPCTL_RPC: sipd.rpcUrl });
  });

  after(async () => {
    await sipd?.stop('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('add: the new subscriber registers immediately, with no warning', async () => {
    const r = await sipctl(['add', 'alice', '--password-stdin', '--no-store-plaintext'], 'Live-Zx-pw-4821');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RELOAD_WARNING);
    const reg = await register('alice', 'Live-Zx-pw-4821');
    assert.ok(reg.ok, `REGISTER right after add failed (exit ${reg.code}):\n${reg.stdout}`);
  });

  test('passwd: the old password is refused at once, the new one accepted', async () => {
    assert.equal((await sipctl(['add', 'bob', '--password-stdin'], 'Old-Zx-pw-7733')).code, 0);
    assert.ok((await register('bob', 'Old-Zx-pw-7733')).ok, 'bob registers with the first password');
    const r = await sipctl(['passwd', 'bob', '--password-stdin'], 'New-Zx-pw-9944');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RELOAD_WARNING);
    const old = await register('bob', 'Old-Zx-pw-7733');
    assert.ok(refused(old), `the old password is not refused (exit ${old.code}):\n${old.stdout}`);
    const fresh = await register('bob', 'New-Zx-pw-9944');
    assert.ok(fresh.ok, `the new password is refused (exit ${fresh.code}):\n${fresh.stdout}`);
  });

  test('rm: the next REGISTER with the old password is refused', async () => {
    assert.equal((await sipctl(['add', 'carol', '--password-stdin'], 'Gone-Zx-pw-5511')).code, 0);
    assert.ok((await register('carol', 'Gone-Zx-pw-5511')).ok, 'carol registers before rm');
    const r = await sipctl(['rm', 'carol', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RELOAD_WARNING);
    const reg = await register('carol', 'Gone-Zx-pw-5511');
    assert.ok(refused(reg), `a removed subscriber is not refused (exit ${reg.code}):\n${reg.stdout}`);
  });

  test('batch: subscribers added by lines register right after the batch', async () => {
    const r = await sipctl(['batch'], 'add dave Batch-Zx-pw-3141\nadd erin Batch-Zx-pw-2718\n');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RELOAD_WARNING);
    for (const [u, pw] of [['dave', 'Batch-Zx-pw-3141'], ['erin', 'Batch-Zx-pw-2718']] as const) {
      const reg = await register(u, pw);
      assert.ok(reg.ok, `${u} added in a batch does not register (exit ${reg.code}):\n${reg.stdout}`);
    }
  });

  test('shell (piped) and the library API: the subscribers they add register at once', async () => {
    const r = await sipctl(['shell'], 'add ivan Shell-Zx-pw-1123\n');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RELOAD_WARNING);
    assert.ok((await register('ivan', 'Shell-Zx-pw-1123')).ok, 'ivan added in a shell registers');
    const { connect } = await import('../../src/core/api.js');
    const api = await connect({ db: env.SIPCTL_DB, rpc: sipd.rpcUrl, domain: DOMAIN, storePlaintext: false, env: {} });
    try {
      const change = await api.subscribers.add('judy', 'Api-Zx-pw-5813');
      assert.equal(change.warnings?.some((w) => RELOAD_WARNING.test(w)) ?? false, false, JSON.stringify(change));
    } finally {
      await api.close();
    }
    assert.ok((await register('judy', 'Api-Zx-pw-5813')).ok, 'judy added through the library registers');
  });

  test('--dry-run asks no proxy for anything and warns of nothing', async () => {
    const down = `http://127.0.0.1:${await findFreePort()}/RPC`;
    const r = await sipctl(['add', 'frank', '--password-stdin', '--dry-run'], 'Dry-Zx-pw-1618', { SIPCTL_RPC: down });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RELOAD_WARNING);
  });

  test('a proxy that is down: one warning (also in --json), exit 0, the row written', async () => {
    const down = `http://127.0.0.1:${await findFreePort()}/RPC`;
    const r = await sipctl(['add', 'gina', '--password-stdin'], 'Down-Zx-pw-6626', { SIPCTL_RPC: down });
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => RELOAD_WARNING.test(l));
    assert.equal(warnings.length, 1, r.stderr);
    // the proxy's own cache_refresh is unknown (it could not be asked): the setting is named, not a time
    assert.match(warnings[0]!, /auth\.reloadCredentials failed .*; the proxy keeps the credentials it had until it reloads them \(sipd: auth-db cache_refresh, 60 s by default; 0 = only at start or on auth\.reloadCredentials\)$/);
    assert.doesNotMatch(r.stderr, /Down-Zx-pw-6626/);
    const j = await sipctl(['passwd', 'gina', '--password-stdin', '--json'], 'Down-Zx-pw-7737', { SIPCTL_RPC: down });
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout) as { warnings?: string[] };
    assert.equal(doc.warnings?.length, 1, j.stdout);
    assert.match(doc.warnings![0]!, /cache_refresh/);
    const show = await sipctl(['subscriber', 'show', 'gina', '--json']);
    assert.equal(show.code, 0, show.stderr);
  });

  test('no proxy configured at all: nothing said', async () => {
    const { SIPCTL_RPC: _, ...noRpc } = env;
    const r = await runSipctl(['add', 'hugo', '--password-stdin'], { env: noRpc, input: 'Quiet-Zx-pw-8080', timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RELOAD_WARNING);
  });
});

describe('subscriber changes against Kamailio (no auth.reloadCredentials)', () => {
  let pdb: ProxyDb;
  let k: KamailioInstance;

  before(async () => {
    requireTools('sipsak');
    pdb = await makeProxyDb();
    k = await startKamailio({ dbUrl: pdb.db.fullUrl, authMode: 'ha1' });
  });

  after(async () => {
    await k?.stop();
    await pdb?.db.drop();
  });

  test('add and rm: exit 0, no warning; the subscriber registers (Kamailio reads the table)', async () => {
    const env = { ...pdb.env, SIPCTL_RPC: k.rpcUrl };
    const add = await runSipctl(['add', 'kim', '--password-stdin'], { env, input: 'Kam-Zx-pw-5150', timeoutMs: 30_000 });
    assert.equal(add.code, 0, add.stderr);
    assert.doesNotMatch(add.stderr, RELOAD_WARNING);
    const reg = await sipsakRegister({ user: 'kim', password: 'Kam-Zx-pw-5150', domain: DOMAIN, proxyHost: '127.0.0.1', proxyPort: k.sipPort, contactPort: await freeSipPort(), expires: 60 });
    assert.ok(reg.ok, `REGISTER on Kamailio failed (exit ${reg.code}):\n${reg.stdout}`);
    const rm = await runSipctl(['rm', 'kim', '--yes', '--json'], { env, timeoutMs: 30_000 });
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((JSON.parse(rm.stdout) as { warnings?: string[] }).warnings, undefined, rm.stdout);
  });
});
