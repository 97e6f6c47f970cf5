// sipctl calls list/end/limit/history through the built binary: a live call between two sipp
// instances through the real sipd is listed and ended (BYE reaches both), the per-user limit is
// set over RPC, and the history comes from acc_cdrs (SQLite and MariaDB).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';
import { register, scenario, settle, sipp } from '../daemon/calls-support.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';
import { requireTools } from '../helpers/require.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';

describe('sipctl calls with a running sipd and a live call', () => {
  before(() => requireTools('sipp'));
  let dir: string;
  let sipd: SipdProcess;
  let env: NodeJS.ProcessEnv;
  let bobPort: number;
  const s = (...args: string[]) => runSipctl(args, { env });

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipctl-calls-'));
    const dbUrl = await makeDb(dir);
    const db = await openDatabase(dbUrl);
    try {
      for (const u of ['alice', 'bob']) await addSubscriber(db, u, '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
    } finally {
      await db.close();
    }
    sipd = await startSipd({ dbUrl, config: { modules: { scanner: { user_agents: ['friendly-scanner'] } } } });
    env = isolatedEnv({ SIPCTL_DB: dbUrl, SIPCTL_RPC: sipd.rpcUrl, NO_COLOR: '1' });
    bobPort = await freeSipPort();
    const reg = await register({ proxyPort: sipd.sipPort, user: 'bob', password: PASSWORD, localPort: bobPort });
    assert.equal(reg.successful, 1, reg.output.slice(-1500));
  });
  after(async () => {
    if (sipd?.child.exitCode === null) await sipd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('list shows the call; end sends BYE to both sides; then the list is empty and history has it (rpc)', async () => {
    const empty = await s('calls', 'list');
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /no active calls/);

    const uas = sipp({ scenario: scenario('callee.xml'), localPort: bobPort, timeoutMs: 20_000 });
    await settle();
    const uac = sipp({ scenario: scenario('caller-held.xml', { USER: 'alice' }), remote: `127.0.0.1:${sipd.sipPort}`, localPort: await freeSipPort(), service: 'bob', user: 'alice', password: PASSWORD, timeoutMs: 20_000 });
    let calls: Array<{ callId: string; from: string; to: string; state: string; caller: string }> = [];
    const deadline = Date.now() + 10_000;
    while (!calls.some((c) => c.state === 'confirmed')) {
      assert.ok(Date.now() < deadline, 'the call never came up');
      const r = await s('calls', 'list', '--json');
      assert.equal(r.code, 0, r.stderr);
      calls = JSON.parse(r.stdout).nodes[0].result;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(calls.length, 1);
    assert.deepEqual([calls[0].from, calls[0].to, calls[0].caller], ['sip:alice@127.0.0.1', `sip:bob@127.0.0.1:${sipd.sipPort}`, 'alice']);
    const tsv = await s('calls', 'list');
    assert.match(tsv.stdout, new RegExp(`^${calls[0].callId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\tsip:alice@127\\.0\\.0\\.1\t`));

    const missing = await s('calls', 'end', 'no-such-call@nowhere', '--yes');
    assert.equal(missing.code, 3, missing.stderr);
    const dry = await s('calls', 'end', calls[0].callId, '--dry-run', '--json');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout).nodes[0].result, { callId: calls[0].callId, ended: 1, dryRun: true });
    assert.equal(JSON.parse((await s('calls', 'list', '--json')).stdout).nodes[0].result.length, 1, '--dry-run ended nothing');
    const end = await s('calls', 'end', calls[0].callId, '--yes');
    assert.equal(end.code, 0, end.stderr);
    assert.match(end.stdout, /BYE sent to both sides/);
    const [a, b] = await Promise.all([uac.done, uas.done]);
    assert.equal(a.code, 0, `caller did not get its BYE\n${a.output.slice(-1500)}`);
    assert.equal(b.code, 0, `callee did not get its BYE\n${b.output.slice(-1500)}`);
    assert.deepEqual(JSON.parse((await s('calls', 'list', '--json')).stdout), { nodes: [{ node: sipd.rpcUrl, ok: true, result: [] }], warnings: [] });

    await new Promise((res) => setTimeout(res, 400));
    const h = JSON.parse((await s('calls', 'history', '--json')).stdout) as { total: number; calls: Array<{ caller: string; callee: string; sipCode: number; endReason: string; callId: string }> };
    assert.equal(h.total, 1);
    assert.deepEqual([h.calls[0].caller, h.calls[0].callee, h.calls[0].sipCode, h.calls[0].endReason, h.calls[0].callId], ['alice', 'bob', 200, 'rpc', calls[0].callId]);
  });

  test('limit: set per user over RPC, shown, back to the default; a bad value is a usage error', async () => {
    const set = await s('calls', 'limit', 'alice', '2');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'alice: at most 2 call(s) at once (0 active)\n');
    const show = await s('calls', 'limit');
    assert.equal(show.stdout, 'alice\t2\trpc\t0\n');
    assert.match(show.stderr, /default: no limit/);
    assert.equal((await s('calls', 'limit', 'alice', 'lots')).code, 2);
    assert.equal((await s('calls', 'limit', 'alice')).code, 2);
    assert.equal((await s('calls', 'limit', 'alice', 'default')).code, 0);
    const dry = await s('calls', 'limit', 'alice', '3', '--dry-run');
    assert.equal(dry.stdout, 'would set alice: at most 3 call(s) at once (0 active)\n');
    assert.deepEqual(JSON.parse((await s('calls', 'limit', '--json')).stdout).nodes[0].result, { default: 0, users: [] }, '--dry-run set nothing');
  });
});

forEachEngine('sipctl calls history', (engine, track) => {
  test('newest first, filtered by user, number, answered and since; empty is exit 0', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    const s = (...args: string[]) => runSipctl(args, { env });
    const none = await s('calls', 'history');
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /no calls/);
    const db = await t.open();
    try {
      const row = (callid: string, src: string, dst: string, setup: string, start: string, end: string, duration: number, code: string, reason: string, why: string) =>
        db.execute(
          'INSERT INTO acc_cdrs (start_time, end_time, duration, callid, from_tag, to_tag, src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain, setup_time, sip_code, sip_reason, end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [start, end, duration, callid, 'f', 't', src, 'example.com', '10.0.0.5', dst, dst, '127.0.0.2', setup, code, reason, why],
        );
      await row('c1', 'alice', '+4930111', '2026-01-02 10:00:00', '2026-01-02 10:00:03', '2026-01-02 10:01:03', 60, '200', 'OK', 'caller-bye');
      await row('c2', 'bob', '+447700900', '2026-01-02 11:00:00', '2026-01-02 11:00:00', '2026-01-02 11:00:00', 0, '403', 'Destination blocked', 'rejected');
      await row('c3', 'alice', 'bob', '2026-01-03 09:00:00', '2026-01-03 09:00:10', '2026-01-03 09:00:10', 0, '486', 'Busy Here', 'failed');
    } finally {
      await db.close();
    }
    const all = await s('calls', 'history');
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(lines.map((l) => [l[1], l[2], l[3], l[5], l[6]]), [
      ['alice', 'bob', '486 Busy Here', 'failed', 'c3'],
      ['bob', '+447700900', '403 Destination blocked', 'rejected', 'c2'],
      ['alice', '+4930111', '200 OK', 'caller-bye', 'c1'],
    ]);
    const alice = JSON.parse((await s('calls', 'history', '--user', 'alice', '--json')).stdout);
    assert.deepEqual(alice.calls.map((c: { callId: string }) => c.callId), ['c3', 'c1']);
    const bobAsCallee = JSON.parse((await s('calls', 'history', '--user', 'bob', '--json')).stdout);
    assert.deepEqual(bobAsCallee.calls.map((c: { callId: string }) => c.callId), ['c3', 'c2']);
    const uk = JSON.parse((await s('calls', 'history', '--number', '+44', '--json')).stdout);
    assert.deepEqual(uk.calls.map((c: { callId: string }) => c.callId), ['c2']);
    const answered = JSON.parse((await s('calls', 'history', '--answered', '--json')).stdout);
    assert.deepEqual(answered.calls.map((c: { callId: string; duration: number; answer: string }) => [c.callId, c.duration, typeof c.answer]), [['c1', 60, 'string']]);
    const since = JSON.parse((await s('calls', 'history', '--since', '2026-01-03', '--json')).stdout);
    assert.deepEqual(since.calls.map((c: { callId: string }) => c.callId), ['c3']);
    const limited = JSON.parse((await s('calls', 'history', '--limit', '1', '--json')).stdout);
    assert.equal(limited.total, 3);
    assert.equal(limited.calls.length, 1);
    assert.equal((await s('calls', 'history', '--since', 'yesterday-ish')).code, 2);
  });
});
