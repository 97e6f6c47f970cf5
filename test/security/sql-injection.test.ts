// Issue 16 part 1: SQL that stays parameterised under every server mode.
// The injection strings go through every sipctl write and read path in src/core (the same
// functions the commands call) on SQLite, on MariaDB with its default sql_mode, with
// NO_BACKSLASH_ESCAPES and with ANSI_QUOTES set per session (the URL's ?sql_mode=), and on a
// private mariadbd started with NO_BACKSLASH_ESCAPES GLOBALLY (the shared server is never
// reconfigured). Each value must round-trip byte-exact or be refused as a usage error (exit 2),
// and row counts change only by the intended row: a canary subscriber's ha1 never leaks and
// no table loses or gains rows it should not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { addAddress, listAddresses, removeAddress } from '../../src/core/address/addresses.js';
import { addBlocked, listBlocked, removeBlocked } from '../../src/core/block/blocklist.js';
import { callHistory } from '../../src/core/calls/calls.js';
import type { Database } from '../../src/core/db/database.js';
import { isSipctlError } from '../../src/core/errors.js';
import { addSim, getSim, listSims } from '../../src/core/sim/sim-records.js';
import { importSubscribers } from '../../src/core/subscribers/import.js';
import { addSubscriber, changePassword, getSubscriber, listSubscribers, removeSubscriber } from '../../src/core/subscribers/subscribers.js';
import type { TestDb } from '../helpers/db.js';
import { openSqlModeDb, type PrivateMariadb, type SqlModeDb } from '../helpers/private-mariadb.js';
import { EVIL } from './injection-strings.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const CRED = { hash: 'md5' as const, storePlaintext: false };

interface Mode {
  name: string;
  engine: 'sqlite' | 'mysql';
  sqlMode?: string;
  /** a private server started with these arguments */
  globalArgs?: string[];
}

export const MODES: Mode[] = [
  { name: 'sqlite', engine: 'sqlite' },
  { name: 'mariadb default sql_mode', engine: 'mysql' },
  { name: 'mariadb session NO_BACKSLASH_ESCAPES', engine: 'mysql', sqlMode: 'NO_BACKSLASH_ESCAPES' },
  { name: 'mariadb session ANSI_QUOTES', engine: 'mysql', sqlMode: 'ANSI_QUOTES' },
  { name: 'mariadb session ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES', engine: 'mysql', sqlMode: 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES' },
  { name: 'private mariadbd GLOBAL NO_BACKSLASH_ESCAPES', engine: 'mysql', globalArgs: ['--sql-mode=NO_BACKSLASH_ESCAPES'] },
];

/** Cases that round-tripped, over all modes (refused ones are in each mode's `refused`). */
let roundTripped = 0;

/** Either it worked and `check` holds, or it was refused as a usage error (exit 2). */
async function roundTripOrRefused(what: string, op: () => Promise<void>, refused: string[]): Promise<void> {
  try {
    await op();
    roundTripped++;
  } catch (e) {
    if (isSipctlError(e) && e.category === 'usage') {
      refused.push(what);
      return;
    }
    throw new Error(`${what}: neither stored nor refused as a usage error: ${(e as Error).message}`, { cause: e });
  }
}

async function counts(db: Database): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['subscriber', 'address', 'mtree', 'sim', 'version', 'acc_cdrs', 'location']) {
    const [{ n }] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`);
    out[t] = Number(n);
  }
  return out;
}

for (const mode of MODES) {
  describe(`injection strings [${mode.name}]`, () => {
    let opened: SqlModeDb | undefined;
    let server: PrivateMariadb | undefined;
    let t: TestDb;
    let db: Database;
    let canaryHa1: string;
    const refused: string[] = [];

    before(async () => {
      opened = await openSqlModeDb(mode);
      ({ t, db, server } = opened);
      await addSubscriber(db, 'canary', 'example.com', PASSWORD, CRED);
      canaryHa1 = (await getSubscriber(db, 'canary', 'example.com', true)).ha1!;
    });
    after(async () => {
      await opened?.close();
      console.log(`[${mode.name}] cases so far round-tripped: ${roundTripped}; refused as usage errors in this mode: ${refused.length}`);
    });

    test('the server runs in the mode under test', async () => {
      if (mode.engine !== 'mysql') return;
      const [{ m }] = await db.query<{ m: string }>('SELECT @@SESSION.sql_mode AS m');
      for (const want of (mode.sqlMode ?? '').split(',').filter(Boolean)) assert.match(m, new RegExp(want), m);
      if (mode.globalArgs) {
        const [{ g }] = await db.query<{ g: string }>('SELECT @@GLOBAL.sql_mode AS g');
        assert.match(g, /NO_BACKSLASH_ESCAPES/);
      }
    });

    test('address add/show/rm: the tag round-trips or is refused; one row per add', async () => {
      let i = 0;
      for (const evil of EVIL) {
        i++;
        const ip = `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`;
        const before = await counts(db);
        await roundTripOrRefused(`address tag ${JSON.stringify(evil).slice(0, 40)}`, async () => {
          await addAddress(db, { grp: '7', ip, tag: evil });
          const rows = (await listAddresses(db, { group: 7 })).filter((r) => r.ip === ip);
          assert.equal(rows.length, 1);
          assert.equal(rows[0].tag, evil, `tag of ${ip}`);
          assert.deepEqual(await counts(db), { ...before, address: before.address + 1 });
          await removeAddress(db, 7, ip);
        }, refused);
        assert.deepEqual(await counts(db), before);
      }
    });

    test('subscriber add/show/passwd/list/rm: the username round-trips or is refused', async () => {
      for (const evil of EVIL) {
        const user = 'u' + evil;
        const before = await counts(db);
        await roundTripOrRefused(`username ${JSON.stringify(user).slice(0, 40)}`, async () => {
          await addSubscriber(db, user, 'example.com', PASSWORD, CRED);
          try {
            assert.equal((await getSubscriber(db, user, 'example.com')).username, user);
            assert.deepEqual(await counts(db), { ...before, subscriber: before.subscriber + 1 });
            await changePassword(db, user, 'example.com', PASSWORD + 'x', CRED);
            const listed = await listSubscribers(db, { pattern: user.replace(/[*?]/g, '?') });
            assert.ok(listed.subscribers.some((s) => s.username === user), 'list --pattern finds it');
          } finally {
            await removeSubscriber(db, user, 'example.com');
          }
        }, refused);
        assert.deepEqual(await counts(db), before);
        // Reads with the string: nothing found, nothing changed.
        await roundTripOrRefused('show', async () => {
          await getSubscriber(db, evil, 'example.com').then(
            () => assert.fail('found a subscriber that was never added'),
            (e) => {
              if (!(isSipctlError(e) && e.category === 'not-found')) throw e;
            },
          );
        }, refused);
        await roundTripOrRefused('list pattern', async () => {
          const r = await listSubscribers(db, { pattern: evil.slice(0, 128) });
          assert.ok(r.subscribers.every((s) => s.username !== 'canary' || evil.includes('*')), 'pattern matched the canary');
        }, refused);
        await roundTripOrRefused('domain', async () => {
          await addSubscriber(db, 'alice', evil, PASSWORD, CRED);
          await removeSubscriber(db, 'alice', evil);
        }, refused);
      }
      assert.equal((await getSubscriber(db, 'canary', 'example.com', true)).ha1, canaryHa1);
    });

    test('subscriber import: CSV usernames round-trip or are rejected per line', async () => {
      const before = await counts(db);
      const csvField = (s: string) => '"' + s.replace(/"/g, '""') + '"';
      const lines = EVIL.filter((e) => !/[\r\n]/.test(e)).map((e) => `${csvField('i' + e)},example.com,${PASSWORD}`);
      const csv = ['username,domain,password', ...lines].join('\n') + '\n';
      const r = await importSubscribers(db, Readable.from([csv]), { ...CRED, batchSize: 4 });
      assert.equal(r.added + r.rejected, lines.length);
      const after = await counts(db);
      assert.equal(after.subscriber, before.subscriber + r.added);
      const all = (await listSubscribers(db, { limit: 10_000 })).subscribers.map((s) => s.username);
      for (const e of EVIL) {
        if (all.includes('i' + e)) await removeSubscriber(db, 'i' + e, 'example.com');
      }
      assert.deepEqual(await counts(db), before);
      assert.equal((await getSubscriber(db, 'canary', 'example.com', true)).ha1, canaryHa1);
    });

    test('block add/show/rm: the note round-trips or is refused', async () => {
      let i = 0;
      for (const evil of EVIL) {
        const prefix = `+4990${String(i++).padStart(3, '0')}`;
        const before = await counts(db);
        await roundTripOrRefused(`block note ${JSON.stringify(evil).slice(0, 40)}`, async () => {
          const added = await addBlocked(db, prefix, evil);
          const found = (await listBlocked(db)).filter((b) => b.prefix === added.entries[0].prefix);
          assert.equal(found.length, 1);
          assert.equal(found[0].note, evil);
          assert.deepEqual(await counts(db), { ...before, mtree: before.mtree + 1 });
          await removeBlocked(db, prefix);
        }, refused);
        assert.deepEqual(await counts(db), before);
      }
    });

    test('sim add/show/list: batch and vendor round-trip or are refused', async () => {
      let i = 0;
      for (const evil of EVIL) {
        const imsi = `00101${String(1000000000 + i++)}`;
        const before = await counts(db);
        await roundTripOrRefused(`sim batch ${JSON.stringify(evil).slice(0, 40)}`, async () => {
          await addSim(db, { imsi, ki: '465b5ce8b199b49faa5f0a2ee238a6bc', opc: 'cd63cb71954a9f4e48a5994e37a02baf', batch: evil, vendor: evil });
          const s = await getSim(db, imsi);
          assert.equal(s.batch, evil);
          assert.equal(s.vendor, evil);
          const l = await listSims(db, { batch: evil });
          assert.deepEqual(l.sims.map((x) => x.imsi), [imsi]);
          assert.deepEqual(await counts(db), { ...before, sim: before.sim + 1 });
          await db.execute('DELETE FROM sim WHERE imsi = ?', [imsi]);
        }, refused);
        assert.deepEqual(await counts(db), before);
        await roundTripOrRefused('sim list --batch', async () => {
          assert.equal((await listSims(db, { batch: evil })).total, 0);
        }, refused);
      }
    });

    test('calls history filters: nothing found, nothing changed', async () => {
      const before = await counts(db);
      for (const evil of EVIL) {
        await roundTripOrRefused('calls history', async () => {
          const r = await callHistory(db, { user: evil, number: evil });
          assert.equal(r.total, 0);
        }, refused);
      }
      assert.deepEqual(await counts(db), before);
    });
  });
}
