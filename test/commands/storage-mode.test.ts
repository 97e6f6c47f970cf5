/**
 * Issue 11 §1: a user added or changed by sipctl can register on the proxy the table was made for.
 * The built CLI against a real SQLite file and a real MariaDB database: sipctl's default (ha1 only)
 * is refused when the table keeps plaintext passwords (the sign of auth_db calculate_ha1 yes),
 * warned about when the table is empty, and any explicit choice (flag, environment, config file,
 * kamctlrc) is obeyed; passwd keeps the row's mode; import follows the same rule; db status says
 * which mode the table is in. The registration itself is tested against Kamailio in
 * test/interop/stock-auth.test.ts.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb, forEachEngine, type TestDb } from '../helpers/db.js';
import type { Database } from '../../src/core/db/database.js';
import { cliFor, expectExit, jsonError, oneErrorLine, type Cli } from './cli-support.js';

const STOCK_KAMCTLRC = fileURLToPath(new URL('../fixtures/kamailio/kamctlrc.debian-stock', import.meta.url));
const PW = 'Stor4ge-Mode-Pass';

forEachEngine('subscriber storage mode (built CLI)', (engine, track) => {
  let t: TestDb;
  let db: Database;
  const cli: Cli = cliFor();
  before(async () => {
    t = track(await createTestDb(engine));
    cli.db = t;
    db = await t.open();
  });
  after(async () => db?.close());

  const passwordOf = async (u: string) => {
    const rows = await db.query<{ password: string }>('SELECT password FROM subscriber WHERE username = ? AND domain = ?', [u, 'stock.example']);
    return rows[0]?.password;
  };
  const mode = async () => JSON.parse((await cli.run(['db', 'status', '--json'])).stdout).subscriberPasswords;

  test('empty table: db status says empty; the default add stores ha1 only and warns, naming both ways out', async () => {
    assert.deepEqual(await mode(), { mode: 'empty', rows: 0, plaintext: 0 });
    const r = await cli.run(['add', 'first@stock.example', PW]);
    expectExit(r, 0);
    assert.match(r.stderr, /^warning: stored ha1 only.*calculate_ha1 yes.*--store-plaintext.*"calculate_ha1", 0.*"password_column", "ha1"/);
    assert.equal(await passwordOf('first'), '');
    assert.equal((await mode()).mode, 'ha1-only');
    const human = await cli.run(['db', 'status']);
    assert.match(human.stderr, /subscriber passwords: ha1 only/);
  });

  test("--kamctlrc with Debian's stock kamctlrc stores plaintext (kamctl: unset STORE_PLAINTEXT_PW = 1)", async () => {
    const r = await cli.run(['add', 'kamctlrc@stock.example', PW, '--kamctlrc', STOCK_KAMCTLRC]);
    expectExit(r, 0);
    assert.match(r.stdout, /plaintext password stored/);
    assert.equal(await passwordOf('kamctlrc'), PW);
    assert.deepEqual(await mode(), { mode: 'mixed', rows: 2, plaintext: 1 });
  });

  test('table with plaintext passwords: the default add is refused (exit 4, one line naming both ways out), nothing written', async () => {
    const r = await cli.run(['add', 'refused@stock.example', PW]);
    expectExit(r, 4);
    const line = oneErrorLine(r);
    assert.match(line, /1 of 2 subscriber\(s\) keep plaintext passwords/);
    assert.match(line, /--store-plaintext/);
    assert.match(line, /"calculate_ha1", 0\) and modparam\("auth_db", "password_column", "ha1"\)/);
    assert.equal(await passwordOf('refused'), undefined);
    const j = await cli.run(['add', 'refused@stock.example', PW, '--json']);
    expectExit(j, 4);
    assert.equal(jsonError(j).code, 'SUBSCRIBER_TABLE_PLAINTEXT');
    const dry = await cli.run(['add', 'refused@stock.example', PW, '--dry-run']);
    expectExit(dry, 4);
  });

  test('an explicit choice is obeyed: --store-plaintext, --no-store-plaintext, SIPCTL_STORE_PLAINTEXT, the config file', async () => {
    expectExit(await cli.run(['add', 'flagpt@stock.example', PW, '--store-plaintext']), 0);
    assert.equal(await passwordOf('flagpt'), PW);
    expectExit(await cli.run(['add', 'flagha1@stock.example', PW, '--no-store-plaintext']), 0);
    assert.equal(await passwordOf('flagha1'), '');
    expectExit(await cli.run(['add', 'envha1@stock.example', PW], { env: { SIPCTL_STORE_PLAINTEXT: '0' } }), 0);
    assert.equal(await passwordOf('envha1'), '');
    const cfg = join(cli.env.HOME!, 'storage.json');
    writeFileSync(cfg, JSON.stringify({ storePlaintext: false }));
    chmodSync(cfg, 0o600);
    expectExit(await cli.run(['add', 'cfgha1@stock.example', PW, '--config', cfg]), 0);
    assert.equal(await passwordOf('cfgha1'), '');
  });

  test("passwd keeps the row's mode; an ha1-only row in a plaintext table is refused unless told", async () => {
    expectExit(await cli.run(['passwd', 'kamctlrc@stock.example', PW + '2']), 0);
    assert.equal(await passwordOf('kamctlrc'), PW + '2', 'plaintext row stays plaintext');
    const r = await cli.run(['passwd', 'first@stock.example', PW + '2']);
    expectExit(r, 4);
    assert.match(oneErrorLine(r), /keep plaintext passwords.*--store-plaintext/);
    expectExit(await cli.run(['passwd', 'first@stock.example', PW + '3', '--store-plaintext']), 0);
    assert.equal(await passwordOf('first'), PW + '3');
    expectExit(await cli.run(['passwd', 'flagpt@stock.example', PW + '3', '--no-store-plaintext']), 0);
    assert.equal(await passwordOf('flagpt'), '');
  });

  test('subscriber import follows the same rule', async () => {
    const csv = `username,domain,password\nimp1,stock.example,${PW}\n`;
    const r = await cli.run(['subscriber', 'import', '-'], { input: csv });
    expectExit(r, 4);
    assert.match(oneErrorLine(r), /keep plaintext passwords/);
    assert.equal(await passwordOf('imp1'), undefined);
    expectExit(await cli.run(['subscriber', 'import', '-', '--store-plaintext'], { input: csv }), 0);
    assert.equal(await passwordOf('imp1'), PW);
    const st = await mode();
    assert.equal(st.mode, 'mixed');
    assert.ok(st.plaintext >= 3);
  });

  test('a table of plaintext rows only: db status says plaintext', async () => {
    await db.execute("DELETE FROM subscriber WHERE password = ''");
    assert.equal((await mode()).mode, 'plaintext');
  });
});
