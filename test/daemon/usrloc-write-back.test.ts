// usrloc db_mode 2 (write-back, as Kamailio's) in sipd as shipped (built, run as a process), on
// SQLite and MariaDB: the REGISTER is answered 200 before anything is in `location`; SIGTERM
// writes it before sipd exits; a restart loads it; with timer_interval 1 a new registration
// reaches the table and an un-REGISTER (Expires: 0) removes the row at the next timer run. In a
// cluster the registration is in Redis before the 200 OK, and the node writes its row later.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, ENGINES, type TestDb } from '../helpers/db.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';
import { redisCommand } from './raw-sip.js';
import { register } from '../../src/core/demo/sip-ua.js';
import { assertBuilt, startSipd, type SipdProcess } from './sipd-process.js';

const PW = { frank: 'Harbor-Violet-6620', gina: 'Copper-Meadow-1957' };
const running: SipdProcess[] = [];
const dbs: TestDb[] = [];
const redises: RedisServer[] = [];
after(async () => {
  for (const r of redises) await r.stop().catch(() => undefined);
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL');
  for (const s of running) rmSync(s.stateDir, { recursive: true, force: true });
  for (const t of dbs) await t.drop().catch((e) => console.error(`cleanup of ${t.url} failed:`, e));
});

type Dump = { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Address: string; State: string } }> } }> } }> };
const states = async (s: SipdProcess) =>
  Object.fromEntries((await s.rpc<Dump>('ul.dump')).Domains[0]!.Domain.AoRs.map((a) => [a.Info.AoR, a.Info.Contacts.map((c) => `${c.Contact.Address} ${c.Contact.State}`)]));

for (const engine of ENGINES) {
  test(`db_mode 2 [${engine}]: 200 before the row exists, SIGTERM writes it, a restart loads it, the timer writes and removes rows`, async () => {
    assertBuilt();
    const t = await createTestDb(engine);
    dbs.push(t);
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
    for (const [u, pw] of Object.entries(PW)) {
      const r = await runSipctl(['add', `${u}@127.0.0.1`, pw], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    const db = await t.open();
    try {
      const locationRows = async () => (await db.query<{ username: string; contact: string }>('SELECT username, contact FROM location ORDER BY username')).map((r) => `${r.username} ${r.contact}`);
      const start = async (timerInterval: number, stateDir?: string) => {
        const s = await startSipd({ dbUrl: t.fullUrl, stateDir, config: { modules: { usrloc: { db_mode: 2, timer_interval: timerInterval } } } });
        running.push(s);
        return s;
      };
      // contacts on fixed ports so that an un-REGISTER names the same binding
      const port = 20000 + Math.floor(Math.random() * 20000);
      const reg = (s: SipdProcess, user: keyof typeof PW, expires = 600) =>
        register({ proxyHost: '127.0.0.1', proxyPort: s.sipPort, user, password: PW[user], domain: '127.0.0.1', contactPort: port + (user === 'frank' ? 0 : 1), expires });

      // timer_interval 3600: no timer run during the test, so the row can only come from the shutdown
      const a = await start(3600);
      const first = await reg(a, 'frank');
      assert.ok(first.ok, first.log.join('\n'));
      assert.deepEqual(await locationRows(), [], 'answered 200 without waiting for the database');
      assert.deepEqual(await states(a), { frank: [`sip:frank@127.0.0.1:${port} CS_NEW`] }, 'ul.dump: not written yet, as Kamailio shows it');
      assert.deepEqual(await a.stop('SIGTERM'), { code: 0, signal: null });
      assert.deepEqual(await locationRows(), [`frank sip:frank@127.0.0.1:${port}`], 'written at SIGTERM, before sipd exited');
      assert.ok(a.lines().some((l) => l.msg === 'usrloc: registrations written at shutdown' && l.written === 1), a.output());

      const b = await start(1, a.stateDir);
      const loaded = b.lines().find((l) => l.msg === 'usrloc: registrations loaded');
      assert.deepEqual([loaded?.loaded, loaded?.dbMode], [1, 2], JSON.stringify(loaded));
      assert.deepEqual(await states(b), { frank: [`sip:frank@127.0.0.1:${port} CS_SYNC`] });

      const second = await reg(b, 'gina');
      assert.ok(second.ok, second.log.join('\n'));
      await until('gina\'s row written by the timer', async () => (await locationRows()).length === 2, 15_000);
      assert.deepEqual(await locationRows(), [`frank sip:frank@127.0.0.1:${port}`, `gina sip:gina@127.0.0.1:${port + 1}`]);

      const removal = await reg(b, 'frank', 0);
      assert.ok(removal.ok, removal.log.join('\n'));
      assert.deepEqual(Object.keys(await states(b)), ['gina'], 'gone from memory at once');
      await until('frank\'s row removed by the timer', async () => (await locationRows()).length === 1, 15_000);
      assert.deepEqual(await locationRows(), [`gina sip:gina@127.0.0.1:${port + 1}`]);
      assert.deepEqual(await b.stop('SIGTERM'), { code: 0, signal: null });
      assert.ok(!b.lines().some((l) => l.level === 'error'), b.output());
    } finally {
      await db.close();
    }
  });
}

test('db_mode 2 with --cluster [mysql]: the registration is in Redis before the 200 OK; the node writes its row later (here at SIGTERM)', async () => {
  assertBuilt();
  const t = await createTestDb('mysql');
  dbs.push(t);
  const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
  const r = await runSipctl(['add', 'frank@127.0.0.1', PW.frank], { env });
  assert.equal(r.code, 0, r.stderr);
  const dir = mkdtempSync(join(tmpdir(), 'sipd-wb-redis-'));
  const redis = await startRedis(dir);
  redises.push(redis);
  const db = await t.open();
  try {
    const s = await startSipd({
      dbUrl: t.fullUrl,
      config: { cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'wb1', timeout_ms: 1000 }, modules: { usrloc: { db_mode: 2, timer_interval: 3600 } } },
    });
    running.push(s);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const ok = await register({ proxyHost: '127.0.0.1', proxyPort: s.sipPort, user: 'frank', password: PW.frank, domain: '127.0.0.1', contactPort: port, expires: 600 });
    assert.ok(ok.ok, ok.log.join('\n'));
    assert.equal(await redisCommand(redis.port, 'HLEN sipd:loc:frank'), ':1', 'in Redis before the 200 OK');
    assert.deepEqual(await db.query('SELECT contact FROM location'), [], 'the row waits for the timer');
    assert.deepEqual(await s.stop('SIGTERM'), { code: 0, signal: null });
    assert.deepEqual((await db.query<{ contact: string }>('SELECT contact FROM location')).map((x) => x.contact), [`sip:frank@127.0.0.1:${port}`]);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
