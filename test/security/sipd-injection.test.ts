// Issue 16 part 1, the network side: a REGISTER (real UDP SIP client with digest auth) whose
// User-Agent holds quotes and backslashes reaches sipd's location write; the accounting module
// writes records whose header values hold the same. On SQLite, MariaDB in its default mode,
// with NO_BACKSLASH_ESCAPES and ANSI_QUOTES per session, and on a private mariadbd with
// NO_BACKSLASH_ESCAPES globally: every REGISTER is answered 200 (never 500), the User-Agent is
// stored byte-exact (a character the latin1 column cannot hold as '?'), and no other row changes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from '../../src/core/demo/sip-ua.js';
import type { Database } from '../../src/core/db/database.js';
import { addSubscriber, getSubscriber } from '../../src/core/subscribers/subscribers.js';
import { ModuleRegistry } from '../../src/daemon/kernel/module-registry.js';
import { createAccModule, type AccApi } from '../../src/daemon/modules/acc/acc-module.js';
import type { CdrRecord } from '../../src/daemon/modules/acc/records.js';
import type { TestDb } from '../helpers/db.js';
import { openSqlModeDb, type SqlModeDb } from '../helpers/private-mariadb.js';
import { assertBuilt, freeSipPort, startSipd, type SipdProcess } from '../daemon/sipd-process.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';

/** User-Agents a phone may send (RFC 3261 allows quotes and backslashes in comments/tokens). */
const AGENTS: Array<[sent: string, stored: string]> = [
  ["it's a phone", "it's a phone"],
  ["\\'", "\\'"],
  ["x', (SELECT ha1 FROM subscriber LIMIT 1), 'y') -- x", "x', (SELECT ha1 FROM subscriber LIMIT 1), 'y') -- x"],
  ["'; DROP TABLE location; --", "'; DROP TABLE location; --"],
  ['"quoted" \\\\ `tick`', '"quoted" \\\\ `tick`'],
  ['café phone 😀', 'café phone ?'],
];

const MODES: Array<{ name: string; engine: 'sqlite' | 'mysql'; sqlMode?: string; globalArgs?: string[] }> = [
  { name: 'sqlite', engine: 'sqlite' },
  { name: 'mariadb default sql_mode', engine: 'mysql' },
  { name: 'mariadb session NO_BACKSLASH_ESCAPES', engine: 'mysql', sqlMode: 'NO_BACKSLASH_ESCAPES' },
  { name: 'mariadb session ANSI_QUOTES,NO_BACKSLASH_ESCAPES', engine: 'mysql', sqlMode: 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES' },
  { name: 'private mariadbd GLOBAL NO_BACKSLASH_ESCAPES', engine: 'mysql', globalArgs: ['--sql-mode=NO_BACKSLASH_ESCAPES'] },
];

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const mode of MODES) {
  describe(`sipd location and acc writes [${mode.name}]`, () => {
    let opened: SqlModeDb | undefined;
    let t: TestDb;
    let db: Database;
    let sipd: SipdProcess | undefined;

    before(async () => {
      assertBuilt();
      opened = await openSqlModeDb(mode);
      ({ t, db } = opened);
      await addSubscriber(db, 'alice', '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
    });
    after(async () => {
      if (sipd?.child.exitCode === null) await sipd.stop();
      await opened?.close();
    });

    test('REGISTER with quotes and backslashes in the User-Agent: 200, stored byte-exact', async () => {
      const ha1 = (await getSubscriber(db, 'alice', '127.0.0.1', true)).ha1;
      sipd = await startSipd({ dbUrl: t.fullUrl, config: { domain: '127.0.0.1' } });
      for (const [sent] of AGENTS) {
        const r = await register({ proxyHost: '127.0.0.1', proxyPort: sipd.sipPort, user: 'alice', password: PASSWORD, domain: '127.0.0.1', contactPort: await freeSipPort(), userAgent: sent, expires: 300, timeoutMs: 4000 });
        assert.equal(r.status, 200, `User-Agent ${JSON.stringify(sent)}: ${r.log.join(' | ')}`);
      }
      const rows = await waitFor('every contact in the location table', async () => {
        const got = await db.query<{ user_agent: string }>('SELECT user_agent FROM location WHERE username = ?', ['alice']);
        return got.length >= AGENTS.length ? got : undefined;
      });
      assert.deepEqual(rows.map((r) => r.user_agent).sort(), AGENTS.map(([, stored]) => stored).sort());
      const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM subscriber');
      assert.equal(Number(n), 1);
      assert.equal((await getSubscriber(db, 'alice', '127.0.0.1', true)).ha1, ha1);
      assert.ok(!sipd.output().includes('"status":500') && !/ 500 /.test(sipd.output()), 'no 500 in the log');
      await sipd.stop();
    });

    test('acc and CDR rows with quotes and backslashes in header values are written byte-exact', async () => {
      const mod = createAccModule({ db });
      const reg = new ModuleRegistry();
      reg.register(mod);
      await reg.initAll({ params: new Map([['acc', { flush_interval: 60_000 }]]) });
      const api = mod.api as AccApi;
      const T0 = Date.UTC(2026, 0, 2, 10, 0, 0);
      try {
        for (const [i, [sent, stored]] of AGENTS.entries()) {
          const call: CdrRecord = {
            callId: `c${i}-${sent}`, fromTag: sent, toTag: 't', srcUser: sent, srcDomain: 'example.com', srcIp: '10.0.0.5', dstOuser: '+4930123', dstUser: sent, dstDomain: '10.0.0.2',
            setupTime: T0, answerTime: T0 + 2_000, endTime: T0 + 5_000, sipCode: 200, sipReason: sent, endReason: 'callee-bye',
          };
          api.event({ ...call, method: 'INVITE', sipCode: 200, sipReason: sent, time: T0 + 2000 });
          api.cdr(call);
          void stored;
        }
        await api.flush();
        assert.deepEqual(await reg.lookup('acc.stats')!.handler(undefined), { queued: 0, written: AGENTS.length * 2, failed_writes: 0, dropped: 0 });
        const acc = await db.query<{ src_user: string; sip_reason: string }>('SELECT src_user, sip_reason FROM acc ORDER BY id');
        assert.deepEqual(acc.map((r) => [r.src_user, r.sip_reason]), AGENTS.map(([, s]) => [s, s]));
        const cdrs = await db.query<{ src_user: string; dst_user: string }>('SELECT src_user, dst_user FROM acc_cdrs ORDER BY id');
        assert.deepEqual(cdrs.map((r) => [r.src_user, r.dst_user]), AGENTS.map(([, s]) => [s, s]));
      } finally {
        await reg.destroyAll();
      }
    });
  });
}
