// sipctl block add/rm/list through the built binary against a running sipd: the mtree table
// is written (SQLite and MariaDB), the proxy reloads it (mtree.reload) and refuses calls to what
// is blocked; with the proxy down the database change stands and the exit code says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';
import { closedPort } from '../unit/rpc/servers.js';
import { assertBuilt, makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';

describe('sipctl block with a running sipd', () => {
  let dir: string;
  let sipd: SipdProcess;
  let env: NodeJS.ProcessEnv;
  const s = (...args: string[]) => runSipctl(args, { env });
  const loaded = async () => (await sipd.rpc<Array<{ tprefix: string; tvalue: string[] }>>('mtree.list')).map((e) => `${e.tprefix}=${e.tvalue[0]}`);

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipctl-block-'));
    const dbUrl = await makeDb(dir);
    sipd = await startSipd({ dbUrl });
    env = isolatedEnv({ SIPCTL_DB: dbUrl, SIPCTL_RPC: sipd.rpcUrl, NO_COLOR: '1' });
  });
  after(async () => {
    if (sipd?.child.exitCode === null) await sipd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('add writes the table and reloads the proxy; separators dropped; note kept', async () => {
    const a = await s('block', 'add', '+44');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, 'blocked +44 (blocked)\n');
    assert.match(a.stderr, /reloaded/);
    const b = await s('block', 'add', '+44 90-', '--note', 'UK premium', '--json');
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), { action: 'add', entries: [{ prefix: '+4490', note: 'UK premium' }], dryRun: false, reload: { nodes: [{ node: sipd.rpcUrl, ok: true, result: { message: 'blocked prefixes reloaded' } }], warnings: [] } });
    assert.deepEqual(await loaded(), ['+44=blocked', '+4490=UK premium']);
    const m = await sipd.rpc('mtree.match', ['blocked', '+449012345', 0]);
    assert.deepEqual(m, { tname: 'blocked', tprefix: '+4490', tvalue: 'UK premium' });
  });

  test('refusals: duplicate → 4, not a prefix → 2, nothing changed', async () => {
    const dup = await s('block', 'add', '+4 4');
    assert.equal(dup.code, 4, dup.stderr);
    assert.match(dup.stderr, /\+44 is already blocked/);
    for (const bad of ['abc', '+44+1', '', '1'.repeat(33)]) assert.equal((await s('block', 'add', bad)).code, 2, bad);
    assert.deepEqual(await loaded(), ['+44=blocked', '+4490=UK premium']);
  });

  test('list: TSV rows, the prefixes bearing on a number and which one blocks it', async () => {
    const l = await s('block', 'list');
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, '+44\tblocked\n+4490\tUK premium\n');
    const n = await s('block', 'list', '+44 90 1234');
    assert.match(n.stderr, /\+44 90 1234 is blocked by \+4490 \(UK premium\)/);
    const j = JSON.parse((await s('block', 'list', '+4930', '--json')).stdout);
    assert.deepEqual(j, { number: '+4930', blocked: false, prefixes: [] });
  });

  test('rm unblocks and reloads; rm of what is not blocked → 3; --no-reload leaves the proxy as it was', async () => {
    const noYes = await s('block', 'rm', '+4490');
    assert.equal(noYes.code, 2);
    assert.match(noYes.stderr, /--yes/);
    const r = await s('block', 'rm', '+4490', '--yes');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'unblocked +4490 (UK premium)\n');
    assert.deepEqual(await loaded(), ['+44=blocked']);
    const again = await s('block', 'rm', '+4490');
    assert.equal(again.code, 3);
    const quiet = await s('block', 'add', '1900', '--no-reload');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.deepEqual(await loaded(), ['+44=blocked'], 'not reloaded');
    assert.equal((await s('rpc', 'mtree.reload')).code, 0);
    assert.deepEqual(await loaded(), ['+44=blocked', '1900=blocked']);
  });
});

forEachEngine('sipctl block, database only', (engine, track) => {
  test('with the proxy down: written, then exit 5; --dry-run writes nothing', async () => {
    const t = track(await createTestDb(engine));
    const url = `http://127.0.0.1:${await closedPort()}/RPC`;
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: url });
    const r = await runSipctl(['block', 'add', '+881'], { env });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /the database is changed, but the proxy did not reload it/);
    const dry = await runSipctl(['block', 'add', '+882', '--dry-run'], { env });
    assert.equal(dry.stdout, 'would block +882 (blocked)\n');
    const list = await runSipctl(['block', 'list', '--json'], { env });
    assert.deepEqual(JSON.parse(list.stdout), [{ prefix: '+881', note: 'blocked' }]);
  });
});
