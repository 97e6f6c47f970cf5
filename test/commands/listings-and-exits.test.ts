/**
 * Issue 11 §3, through the built CLI: nothing cut short or mislabelled silently.
 * - a 1,003-row subscriber table: `show` prints all of them; `subscriber list` piped says on stderr
 *   what its page left out, and --json carries total + truncated;
 * - `calls history` on Kamailio's stock acc/acc_cdrs tables (its acc-create.sql, copied into
 *   test/fixtures/kamailio/stock-schema/);
 * - a database without the schema is exit 9 for every command that reads it;
 * - unknown commands are usage errors (2) with a "did you mean", as JSON under --json;
 * - global flags before the command, `help`, -h and -v.
 */
import { after, before, test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTestDb, forEachEngine, type TestDb } from '../helpers/db.js';
import type { Database } from '../../src/core/db/database.js';
import { cliFor, expectExit, jsonError, oneErrorLine, show, type Cli } from './cli-support.js';

const STOCK_ACC = (engine: string) => readFileSync(fileURLToPath(new URL(`../fixtures/kamailio/stock-schema/acc-create.${engine}.sql`, import.meta.url)), 'utf8');

/** The statements of a Kamailio *-create.sql file (no procedures in these: ';' ends each). */
function statements(sql: string): string[] {
  return sql.split('\n').filter((l) => !l.startsWith('--')).join('\n').split(';').map((s) => s.trim()).filter(Boolean);
}

forEachEngine('listings and exit codes (built CLI)', (engine, track) => {
  let t: TestDb;
  let db: Database;
  const cli: Cli = cliFor();
  before(async () => {
    t = track(await createTestDb(engine));
    cli.db = t;
    db = await t.open();
  });
  after(async () => db?.close());

  test('1,003 subscribers: show prints every one; subscriber list says what it left out (stderr, and total/truncated in --json)', async () => {
    await db.transaction(async (tx) => {
      for (let i = 0; i < 1003; i += 100) {
        const n = Math.min(100, 1003 - i);
        const rows = Array.from({ length: n }, (_, k) => [`u${String(i + k).padStart(4, '0')}`, 'many.example', '', 'x'.repeat(32), 'y'.repeat(32)]);
        await tx.execute('INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ' + rows.map(() => '(?, ?, ?, ?, ?)').join(', '), rows.flat());
      }
    });
    const all = await cli.run(['show']);
    expectExit(all, 0);
    assert.equal(all.stdout.trim().split('\n').length, 1003, 'show prints all 1,003 rows');
    const allJson = JSON.parse((await cli.run(['show', '--json'])).stdout);
    assert.equal(allJson.subscribers.length, 1003);
    assert.equal(allJson.total, 1003);
    assert.equal(allJson.truncated, false);

    const page = await cli.run(['subscriber', 'list']);
    expectExit(page, 0);
    assert.equal(page.stdout.trim().split('\n').length, 100);
    assert.match(page.stderr, /^100 of 1003 subscriber\(s\), page 1 of 11: --page 2 for the next, --limit 1003 for all/);
    const pj = await cli.run(['subscriber', 'list', '--json']);
    const doc = JSON.parse(pj.stdout);
    assert.equal(pj.stderr, '');
    assert.equal(doc.total, 1003);
    assert.equal(doc.truncated, true);
    assert.equal(doc.subscribers.length, 100);
    const last = JSON.parse((await cli.run(['subscriber', 'list', '--page', '11', '--json'])).stdout);
    assert.equal(last.subscribers.length, 3);
    assert.equal(last.truncated, true, 'a page that is not everything is truncated');
    const every = await cli.run(['subscriber', 'list', '--limit', '1003']);
    assert.equal(every.stdout.trim().split('\n').length, 1003);
    assert.equal(every.stderr, '');
  });

  test("calls history works on Kamailio's stock acc/acc_cdrs tables (db status says ok there too)", async () => {
    await db.exec('DROP TABLE acc');
    await db.exec('DROP TABLE acc_cdrs');
    await db.execute("DELETE FROM version WHERE table_name IN ('acc', 'acc_cdrs', 'missed_calls')");
    for (const st of statements(STOCK_ACC(engine))) await db.exec(st);
    await db.execute('INSERT INTO acc_cdrs (start_time, end_time, duration) VALUES (?, ?, ?)', ['2026-01-02 10:00:03', '2026-01-02 10:01:03', 60]);
    await db.execute('INSERT INTO acc_cdrs (start_time, end_time, duration) VALUES (?, ?, ?)', ['2026-01-03 09:00:00', '2026-01-03 09:00:30', 30]);

    const st = JSON.parse((await cli.run(['db', 'status', '--json'])).stdout);
    assert.equal(st.tables.find((x: { table: string }) => x.table === 'acc_cdrs').state, 'ok');
    const h = await cli.run(['calls', 'history']);
    expectExit(h, 0);
    const lines = h.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(lines.map((l) => [l[1], l[3], l[4]]), [['-', 'answered', '30'], ['-', 'answered', '60']]);
    const j = JSON.parse((await cli.run(['calls', 'history', '--json', '--since', '2026-01-03'])).stdout);
    assert.equal(j.total, 1);
    assert.equal(j.calls[0].duration, 30);
    assert.equal(j.calls[0].callId, undefined);
    const limited = await cli.run(['calls', 'history', '--limit', '1']);
    assert.match(limited.stderr, /1 of 2 call\(s\) shown.*--limit 2/);
    const byUser = await cli.run(['calls', 'history', '--user', 'alice']);
    expectExit(byUser, 2);
    assert.match(oneErrorLine(byUser), /--user needs acc_cdrs column\(s\) src_user.*cdr_extra/);
  });

  test('a database without the schema: exit 9 for every command that reads or writes it', async () => {
    const empty = track(await createTestDb(engine, { init: false }));
    // SQLite: the file must exist to be a database at all
    if (engine === 'sqlite') (await empty.open()).close();
    const env = empty.password ? { SIPCTL_DB_PASSWORD: empty.password } : {};
    for (const args of [['show'], ['show', 'a@example.com'], ['subscriber', 'list'], ['address', 'show'], ['calls', 'history'], ['add', 'bob@example.com', 'Str0ng-Passw0rd-1'], ['sim', 'list']]) {
      const r = await cli.run([...args, '--db', empty.url], { env });
      assert.equal(r.code, 9, `${args.join(' ')}: ${show(r)}`);
      assert.match(oneErrorLine(r), /schema|no table|db init/, args.join(' '));
      const j = await cli.run([...args, '--db', empty.url, '--json'], { env });
      assert.equal(jsonError(j).category, 'schema', args.join(' '));
    }
  });
});

describe('commands people type (built CLI)', () => {
  const cli: Cli = cliFor();

  test('an unknown command: exit 2 with "did you mean", JSON on stderr under --json', async () => {
    const r = await cli.run(['ul', 'dmp']);
    expectExit(r, 2);
    assert.match(oneErrorLine(r), /unknown command "ul dmp".*did you mean "sipctl ul dump"/);
    const j = await cli.run(['--json', 'subscribr', 'list']);
    expectExit(j, 2);
    const e = jsonError(j);
    assert.equal(e.code, 'UNKNOWN_COMMAND');
    assert.equal(e.category, 'usage');
    assert.match(e.hint!, /sipctl subscriber list/);
    assert.equal(j.stdout, '');
    const far = await cli.run(['zzzzzzzzzzzz']);
    expectExit(far, 2);
    assert.match(oneErrorLine(far), /unknown command.*sipctl --help/);
  });

  test('global flags before the command work: --json, --db URL, --rpc URL', async () => {
    const dir = cli.env.HOME!;
    const url = `sqlite://${dir}/front.db`;
    expectExit(await cli.run(['--db', url, 'db', 'init']), 0);
    const st = await cli.run(['--json', '--db', url, 'db', 'status']);
    expectExit(st, 0);
    assert.equal(JSON.parse(st.stdout).engine, 'sqlite');
    // a port nothing listens on: the flag was used (connection failure, 5), not taken for a command
    const r = await cli.run(['--rpc', 'http://127.0.0.1:9/RPC', '--json', 'ul', 'dump']);
    expectExit(r, 5);
    assert.match(jsonError(r).message, /127\.0\.0\.1:9/);
  });

  test('sipctl help, help TOPIC, -h, -v do what people expect', async () => {
    const h = await cli.run(['help']);
    expectExit(h, 0);
    assert.match(h.stdout, /USAGE[\s\S]*TOPICS/);
    const ht = await cli.run(['help', 'subscriber', 'add']);
    expectExit(ht, 0);
    assert.match(ht.stdout, /Add a subscriber/);
    const dash = await cli.run(['-h']);
    expectExit(dash, 0);
    assert.match(dash.stdout, /USAGE/);
    const cmd = await cli.run(['add', '-h']);
    expectExit(cmd, 0);
    assert.match(cmd.stdout, /Add a subscriber/);
    const v = await cli.run(['-v']);
    expectExit(v, 0);
    assert.match(v.stdout, /^sipctl\/\d+\.\d+\.\d+ /);
  });
});
