/**
 * The built CLI, as a user or a script runs it, against a real SQLite file and a real MariaDB
 * database: exit codes, stdout/stderr discipline, --json documents, no prompts without a TTY,
 * and secrets that never show up where they should not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb, forEachEngine, type TestDb } from '../helpers/db.js';
import type { Database } from '../../src/core/db/database.js';
import { schemaStatus } from '../../src/core/db/schema/schema.js';
import { cliFor, ESC, expectExit, jsonError, oneErrorLine, show, STACK_LINE, type Cli } from './cli-support.js';

const CSV_FIXTURE = fileURLToPath(new URL('../fixtures/foundation/subscribers.csv', import.meta.url));
const ATTACK = "'; DROP TABLE subscriber; --";
const KAMCTL_PW = 'supersecretpassword';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');


forEachEngine('sipctl subscriber (built CLI)', (engine, track) => {
  let t: TestDb;
  const cli: Cli = cliFor();
  /** every password this suite typed: none may ever be printed */
  const secrets = new Set<string>([KAMCTL_PW]);
  const tmp = mkdtempSync(join(tmpdir(), 'sipctl-cli-sub-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** our own handle, to check what the CLI did without paying for another process */
  let db: Database;
  before(async () => {
    t = track(await createTestDb(engine, { init: false }));
    cli.db = t;
    db = await t.open();
  });
  after(async () => db?.close());

  async function subscriberCount(): Promise<number> {
    const sub = (await schemaStatus(db)).find((x) => x.table === 'subscriber')!;
    assert.equal(sub.state, 'ok', 'subscriber table intact and at version 7');
    return sub.rows!;
  }
  async function rowOf(aor: string): Promise<{ ha1: string; password: string } | undefined> {
    const [username, domain] = aor.split('@');
    const rows = await db.query<{ ha1: string; password: string }>('SELECT ha1, password FROM subscriber WHERE username = ? AND domain = ?', [username, domain]);
    return rows[0];
  }
  async function ha1Of(aor: string): Promise<string> {
    const row = await rowOf(aor);
    assert.ok(row, `${aor} exists`);
    return row.ha1;
  }
  /** CLI behaviour that does not depend on the database engine runs once, on SQLite. */
  const agnostic = (name: string, opts: { todo?: string }, fn: () => Promise<void>) => {
    if (engine === 'sqlite') test(name, opts, fn);
  };

  test('db init creates the schema', async () => {
    const r = await cli.run(['db', 'init']);
    expectExit(r, 0);
    assert.match(r.stdout, /^created: version, subscriber, address, trusted, location, location_attrs, htable, acc, acc_cdrs, mtree, domain, domain_attrs, dispatcher, dialplan, grp, re_grp, dbaliases, speed_dial, uacreg, sipd_blocklist, sipd_country, sipd_country_override, sipd_timerule, sipd_rate, sipd_limits, sipd_ua_allow, sim\n$/);
    const again = await cli.run(['db', 'init']);
    expectExit(again, 0);
    assert.match(again.stdout, /nothing to create/);
  });

  test('add 61312341234@127.0.0.1 supersecretpassword (kamctl style) exits 0', async () => {
    const r = await cli.run(['add', '61312341234@127.0.0.1', KAMCTL_PW]);
    expectExit(r, 0);
    assert.equal(r.stdout, 'added subscriber 61312341234@127.0.0.1\n');
    // An empty table cannot tell which auth_db setting the proxy has: ha1 only is never silent.
    assert.match(r.stderr, /^warning: stored ha1 only .*calculate_ha1 yes.*--store-plaintext.*password_column.*\n$/);
  });

  test('show --json is one JSON document with stable keys and no secrets', async () => {
    const r = await cli.run(['show', '61312341234@127.0.0.1', '--json']);
    expectExit(r, 0);
    const doc = JSON.parse(r.stdout); // throws if there is anything else on stdout
    assert.deepEqual(Object.keys(doc), ['id', 'username', 'domain', 'hasPlaintextPassword']);
    assert.deepEqual({ ...doc, id: 0 }, { id: 0, username: '61312341234', domain: '127.0.0.1', hasPlaintextPassword: false });
    assert.equal(typeof doc.id, 'number');
    assert.ok(!r.stdout.includes('4a7cadd345e02b65cd9e2230bdd9128a') && !/ha1|password"/.test(r.stdout));
    assert.equal(r.stderr, '');
  });

  test('show --reveal --json has the ha1/ha1b kamctl computed', async () => {
    const r = await cli.run(['subscriber', 'show', '61312341234@127.0.0.1', '--reveal', '--json']);
    expectExit(r, 0);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ha1, '4a7cadd345e02b65cd9e2230bdd9128a');
    assert.equal(doc.ha1b, '7c65f3b58133f64fa6111dda9c3398a0');
  });

  agnostic('show without --json prints key/value lines (piped: tab-separated)', {}, async () => {
    const r = await cli.run(['subscriber', 'show', '61312341234@127.0.0.1']);
    expectExit(r, 0);
    assert.match(r.stdout, /^id\t\d+\nusername\t61312341234\ndomain\t127\.0\.0\.1\nplaintext\tnot stored\n$/);
  });

  test('adding it again: exit 4, SUBSCRIBER_EXISTS as JSON with --json, one line without', async () => {
    const j = await cli.run(['add', '61312341234@127.0.0.1', KAMCTL_PW, '--json']);
    expectExit(j, 4);
    const err = jsonError(j);
    assert.equal(err.code, 'SUBSCRIBER_EXISTS');
    assert.equal(err.category, 'conflict');
    assert.match(err.message, /61312341234@127\.0\.0\.1 already exists/);
    assert.equal(j.stdout, '');

    const h = await cli.run(['add', '61312341234@127.0.0.1', KAMCTL_PW]);
    expectExit(h, 4);
    assert.match(oneErrorLine(h), /already exists/);
    assert.equal(h.stdout, '');
    assert.equal(await ha1Of('61312341234@127.0.0.1'), '4a7cadd345e02b65cd9e2230bdd9128a', 'row unchanged');
  });

  test('the SQL injection string as username: exit 2, table intact', async () => {
    const before1 = await subscriberCount();
    const r = await cli.run(['add', `${ATTACK}@127.0.0.1`, 'Str0ng-passw0rd-1']);
    secrets.add('Str0ng-passw0rd-1');
    expectExit(r, 2);
    assert.match(oneErrorLine(r), /username/);
    const j = await cli.run(['subscriber', 'add', ATTACK, 'Str0ng-passw0rd-1', '--domain', '127.0.0.1', '--json']);
    expectExit(j, 2);
    assert.equal(jsonError(j).code, 'INVALID_USERNAME');
    assert.equal(await subscriberCount(), before1);
  });

  test('rm without --yes and without a TTY: exit 2 naming --yes, nothing removed', async () => {
    const r = await cli.run(['rm', '61312341234@127.0.0.1'], { timeoutMs: 10000 });
    expectExit(r, 2);
    assert.match(oneErrorLine(r), /--yes/);
    assert.equal(await ha1Of('61312341234@127.0.0.1'), '4a7cadd345e02b65cd9e2230bdd9128a');
  });

  test('rm --dry-run changes nothing; rm --yes removes; show is then exit 3', async () => {
    const dry = await cli.run(['subscriber', 'rm', '61312341234@127.0.0.1', '--dry-run']);
    expectExit(dry, 0);
    assert.match(dry.stdout, /would remove/);
    await ha1Of('61312341234@127.0.0.1');

    const r = await cli.run(['rm', '61312341234@127.0.0.1', '--yes']);
    expectExit(r, 0);
    assert.equal(r.stdout, 'removed subscriber 61312341234@127.0.0.1\n');
    const s = await cli.run(['show', '61312341234@127.0.0.1']);
    expectExit(s, 3);
    assert.match(oneErrorLine(s), /does not exist/);
    const js = await cli.run(['show', '61312341234@127.0.0.1', '--json']);
    expectExit(js, 3);
    assert.equal(jsonError(js).code, 'SUBSCRIBER_NOT_FOUND');
  });

  agnostic('add with no password and no TTY fails at once (exit 2) naming --password-stdin', {}, async () => {
    // refused before reading anything: exit 2 naming the flag (a prompt would end in another error or the kill at timeoutMs)
    const r = await cli.run(['add', 'x@127.0.0.1'], { timeoutMs: 10000 });
    expectExit(r, 2);
    assert.match(oneErrorLine(r), /--password-stdin/);
    assert.equal(await rowOf('x@127.0.0.1'), undefined);
  });

  agnostic('--password-stdin reads the password (one trailing newline dropped)', {}, async () => {
    const pw = 'Stdin-passw0rd-Xq';
    secrets.add(pw);
    const r = await cli.run(['subscriber', 'add', 'stdin-user@127.0.0.1', '--password-stdin'], { input: pw + '\n' });
    expectExit(r, 0);
    assert.equal(await ha1Of('stdin-user@127.0.0.1'), md5(`stdin-user:127.0.0.1:${pw}`));
  });

  agnostic('--password-stdin with empty input, or with a password argument too, is a usage error', {}, async () => {
    const pw = 'Stdin-passw0rd-Xq';
    secrets.add(pw);
    const empty = await cli.run(['subscriber', 'add', 'stdin-empty@127.0.0.1', '--password-stdin'], { input: '' });
    expectExit(empty, 2);
    const both = await cli.run(['subscriber', 'add', 'stdin-both@127.0.0.1', 'Arg-passw0rd-9', '--password-stdin'], { input: pw });
    secrets.add('Arg-passw0rd-9');
    expectExit(both, 2);
  });

  agnostic('--generate prints the password once, and it is the one stored', {}, async () => {
    const r = await cli.run(['add', 'gen@127.0.0.1', '--generate']);
    expectExit(r, 0);
    const found = [...r.stdout.matchAll(/^password: (\S+)$/gm)].map((m) => m[1]);
    assert.equal(found.length, 1, show(r));
    const pw = found[0];
    assert.equal(r.stdout.split(pw).length - 1, 1, 'printed exactly once');
    assert.ok(!r.stderr.includes(pw));
    assert.match(pw, /^[a-km-zA-HJ-NP-Z2-9]{20}$/);
    assert.equal(await ha1Of('gen@127.0.0.1'), md5(`gen:127.0.0.1:${pw}`));

    const j = await cli.run(['add', 'gen2@127.0.0.1', '--generate', '--json']);
    expectExit(j, 0);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.action, 'add');
    assert.equal(await ha1Of('gen2@127.0.0.1'), md5(`gen2:127.0.0.1:${doc.generatedPassword}`));
  });

  agnostic('a weak password is refused with the reason; --allow-weak accepts it', {}, async () => {
    const r = await cli.run(['add', 'weak@127.0.0.1', 'password123']);
    secrets.add('password123');
    expectExit(r, 2);
    assert.match(oneErrorLine(r), /too weak: .*commonly used.*--allow-weak/);
    const short = await cli.run(['add', 'weak@127.0.0.1', 'Ab1!x']);
    expectExit(short, 2);
    assert.match(short.stderr, /shorter than 8 characters/);
    assert.equal(await rowOf('weak@127.0.0.1'), undefined);
    const ok = await cli.run(['add', 'weak@127.0.0.1', 'password123', '--allow-weak']);
    expectExit(ok, 0);
    assert.equal(await ha1Of('weak@127.0.0.1'), md5('weak:127.0.0.1:password123'));
  });

  agnostic('--dry-run writes nothing', {}, async () => {
    const r = await cli.run(['add', 'preview@127.0.0.1', 'Dry-run-passw0rd', '--dry-run']);
    secrets.add('Dry-run-passw0rd');
    expectExit(r, 0);
    assert.equal(r.stdout, 'would add subscriber preview@127.0.0.1\n');
    assert.equal(await rowOf('preview@127.0.0.1'), undefined);
    const p = await cli.run(['passwd', 'gen@127.0.0.1', 'Dry-run-passw0rd', '--dry-run']);
    expectExit(p, 0);
    assert.match(p.stdout, /would change/);
    assert.notEqual(await ha1Of('gen@127.0.0.1'), md5('gen:127.0.0.1:Dry-run-passw0rd'));
  });

  agnostic('--store-plaintext, --hash sha256 and passwd', {}, async () => {
    const r = await cli.run(['subscriber', 'add', 'pt@127.0.0.1', 'Plain-passw0rd-7', '--store-plaintext', '--hash', 'sha256']);
    secrets.add('Plain-passw0rd-7');
    expectExit(r, 0);
    assert.match(r.stdout, /plaintext password stored/);
    const s = (await rowOf('pt@127.0.0.1'))!;
    assert.equal(s.password, 'Plain-passw0rd-7');
    assert.equal(s.ha1, createHash('sha256').update('pt:127.0.0.1:Plain-passw0rd-7').digest('hex'));

    // passwd keeps the row's storage mode: blanking the column would lock the user out of a
    // proxy with calculate_ha1 yes (issue 11).
    const p = await cli.run(['passwd', 'pt@127.0.0.1', 'Changed-passw0rd-8']);
    secrets.add('Changed-passw0rd-8');
    expectExit(p, 0);
    const s2 = (await rowOf('pt@127.0.0.1'))!;
    assert.equal(s2.password, 'Changed-passw0rd-8', 'passwd on a plaintext row keeps plaintext');
    assert.equal(s2.ha1, md5('pt:127.0.0.1:Changed-passw0rd-8'));
    expectExit(await cli.run(['passwd', 'nobody@127.0.0.1', 'Changed-passw0rd-8']), 3);
    // Told otherwise, it clears the column; the table is ha1-only again for the tests below.
    expectExit(await cli.run(['passwd', 'pt@127.0.0.1', 'Changed-passw0rd-9', '--no-store-plaintext']), 0);
    secrets.add('Changed-passw0rd-9');
    assert.equal((await rowOf('pt@127.0.0.1'))!.password, '', 'passwd --no-store-plaintext clears the column');
  });

  test('subscriber import of a CSV file: counts, and rejected rows → exit 2 with line numbers', async () => {
    expectExit(await cli.run(['add', 'existing@example.com', 'Original-passw0rd']), 0);
    secrets.add('Original-passw0rd');
    for (const pw of ['Str0ng-Passw0rd', 'An0ther-g00d-one', 'Whatever-123x', 'Val1d-passw0rd', 'Gr4ce-pass-word']) secrets.add(pw);
    const r = await cli.run(['subscriber', 'import', CSV_FIXTURE, '--domain', 'default.example']);
    expectExit(r, 2);
    assert.equal(r.stdout, 'added 4, skipped 1 (already present), rejected 6\n');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.deepEqual(lines.slice(0, 6).map((l) => Number(/^line (\d+): /.exec(l)?.[1])), [6, 7, 8, 9, 11, 14]);
    assert.match(lines[6], /^sipctl: 6 row\(s\) rejected/);
    assert.equal(lines.length, 7);
    assert.equal(await ha1Of('grace@default.example'), md5('grace:default.example:Gr4ce-pass-word'));
    assert.equal(await ha1Of('existing@example.com'), md5('existing:example.com:Original-passw0rd'), 'existing row not overwritten');
  });

  test('subscriber import from stdin (-), plain and --json', async () => {
    const csv = 'username,domain,password\nin1,stdin.example,Stdin-passw0rd-1\nin2,stdin.example,Stdin-passw0rd-2\n';
    secrets.add('Stdin-passw0rd-1').add('Stdin-passw0rd-2');
    const r = await cli.run(['subscriber', 'import', '-'], { input: csv });
    expectExit(r, 0);
    assert.equal(r.stdout, 'added 2, skipped 0 (already present), rejected 0\n');
    const j = await cli.run(['subscriber', 'import', '-', '--json'], { input: csv });
    expectExit(j, 0);
    assert.deepEqual(JSON.parse(j.stdout), { added: 0, skipped: 2, rejected: 0, rejections: [], dryRun: false, atomic: false, rolledBack: false, storedPlaintext: false });
    assert.equal(await ha1Of('in2@stdin.example'), md5('in2:stdin.example:Stdin-passw0rd-2'));
  });

  agnostic('subscriber import --json with a rejected row: summary on stdout, error document on stderr', {}, async () => {
    const r = await cli.run(['subscriber', 'import', '-', '--json'], { input: 'username,domain,password\nj1,json.example,Json-passw0rd-1\nbad user,json.example,Json-passw0rd-1\n' });
    secrets.add('Json-passw0rd-1');
    expectExit(r, 2);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.added, 1);
    assert.deepEqual(summary.rejections.map((x: { line: number }) => x.line), [3]);
    const err = jsonError(r);
    assert.equal(err.code, 'IMPORT_REJECTED_ROWS');
    assert.deepEqual(err.details, { added: 1, skipped: 0, rejected: 1 });
  });

  test('subscriber import --atomic with a bad row imports nothing', async () => {
    const path = join(tmp, 'atomic.csv');
    writeFileSync(path, 'username,domain,password\nat1,atomic.example,Atomic-passw0rd\nbad user,atomic.example,Atomic-passw0rd\n');
    secrets.add('Atomic-passw0rd');
    const r = await cli.run(['subscriber', 'import', path, '--atomic'], { timeoutMs: 30_000 });
    expectExit(r, 2);
    assert.match(r.stdout, /rolled back, nothing imported/);
    assert.equal(await rowOf('at1@atomic.example'), undefined);
  });

  test('subscriber list --limit --page (and --json)', async () => {
    const csv = ['username,domain,password', ...Array.from({ length: 7 }, (_, i) => `page${i},page.example,Page-passw0rd-${i}`)].join('\n');
    expectExit(await cli.run(['subscriber', 'import', '-'], { input: csv }), 0);
    for (let i = 0; i < 7; i++) secrets.add(`Page-passw0rd-${i}`);
    const p2 = await cli.run(['subscriber', 'list', '--domain', 'page.example', '--limit', '3', '--page', '2', '--json']);
    expectExit(p2, 0);
    const doc = JSON.parse(p2.stdout);
    assert.equal(doc.total, 7);
    assert.equal(doc.page, 2);
    assert.deepEqual(doc.subscribers.map((s: { username: string }) => s.username), ['page3', 'page4', 'page5']);
    const p3 = await cli.run(['subscriber', 'list', '--domain', 'page.example', '--limit', '3', '--page', '3']);
    expectExit(p3, 0);
    assert.equal(p3.stdout, 'page6\tpage.example\tno\n');
  });

  test('subscriber list --pattern', async () => {
    const r = await cli.run(['subscriber', 'list', '--pattern', 'page?', '--limit', '2', '--page', '2', '--json']);
    expectExit(r, 0);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.total, 7);
    assert.deepEqual(doc.subscribers.map((s: { username: string }) => s.username), ['page2', 'page3']);
    const none = await cli.run(['subscriber', 'list', '--pattern', ATTACK]);
    expectExit(none, 0);
    assert.equal(none.stdout, '');
  });

  test('db status --json describes every table', async () => {
    const r = await cli.run(['db', 'status', '--json']);
    expectExit(r, 0);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.engine, engine);
    assert.ok(!doc.database.includes(t.password ?? '\u0000'), 'no password in the label');
    assert.deepEqual(doc.tables.map((x: { table: string }) => x.table), ['version', 'subscriber', 'address', 'trusted', 'location', 'location_attrs', 'htable', 'acc', 'acc_cdrs', 'mtree', 'domain', 'domain_attrs', 'dispatcher', 'dialplan', 'grp', 're_grp', 'dbaliases', 'speed_dial', 'uacreg', 'sipd_blocklist', 'sipd_country', 'sipd_country_override', 'sipd_timerule', 'sipd_rate', 'sipd_limits', 'sipd_ua_allow', 'sim']);
    for (const x of doc.tables) assert.equal(x.state, 'ok');
  });

  test('a changed subscriber version row: writes refused with exit 9, reads still work', async () => {
    const before1 = await subscriberCount();
    await db.execute("UPDATE version SET table_version = 6 WHERE table_name = 'subscriber'");
    try {
      const add = await cli.run(['add', 'newcomer@127.0.0.1', 'Late-passw0rd-1']);
      secrets.add('Late-passw0rd-1');
      expectExit(add, 9);
      assert.match(oneErrorLine(add), /version 6.*version 7/);
      const j = await cli.run(['passwd', 'existing@example.com', 'Late-passw0rd-1', '--json']);
      expectExit(j, 9);
      assert.equal(jsonError(j).code, 'SCHEMA_VERSION_MISMATCH');
      expectExit(await cli.run(['rm', 'existing@example.com', '--yes']), 9);
      expectExit(await cli.run(['subscriber', 'import', '-'], { input: 'username,domain,password\nnewcomer2,x.example,Late-passw0rd-1\n' }), 9);
      expectExit(await cli.run(['db', 'init']), 9);
      expectExit(await cli.run(['show', 'existing@example.com']), 0);
      const st = JSON.parse((await cli.run(['db', 'status', '--json'])).stdout);
      const sub = st.tables.find((x: { table: string }) => x.table === 'subscriber');
      assert.deepEqual({ state: sub.state, rows: sub.rows }, { state: 'unknown-version', rows: before1 });
      assert.equal(await ha1Of('existing@example.com'), md5('existing:example.com:Original-passw0rd'));
    } finally {
      await db.execute("UPDATE version SET table_version = 7 WHERE table_name = 'subscriber'");
    }
  });

  agnostic('--debug adds a stack trace; without it there is none', {}, async () => {
    const r = await cli.run(['show', 'nobody@127.0.0.1', '--debug']);
    expectExit(r, 3);
    assert.match(r.stderr, STACK_LINE);
    // The trace names the error class, also from the minified bundle (built without keepNames).
    assert.match(r.stderr, /^NotFoundError: /m);
  });

  test('no run of this suite printed a stack trace (without --debug), an ESC byte, or a password', () => {
    assert.ok(cli.runs.length > 25);
    for (const { args, r } of cli.runs) {
      const out = r.stdout + r.stderr;
      if (!args.includes('--debug')) assert.doesNotMatch(r.stderr, STACK_LINE, `${args.join(' ')}\n${show(r)}`);
      assert.ok(!out.includes(ESC), `ESC byte in output of ${args.join(' ')}`);
      for (const s of secrets) assert.ok(!out.includes(s), `password ${s} printed by: ${args.join(' ')}\n${show(r)}`);
      if (t.password) assert.ok(!out.includes(t.password), `database password printed by: ${args.join(' ')}`);
    }
  });
});

forEachEngine('unreachable database', (engine) => {
  test('a dead database: exit 5 with one line, quickly', async () => {
    const cli = cliFor();
    const url = engine === 'mysql' ? 'mysql://nobody@127.0.0.1:1/x' : 'sqlite:///nonexistent-dir/sub/none.db';
    const r = await cli.run(['show', 'a@example.com', '--db', url], { timeoutMs: 15000 });
    if (engine === 'mysql') {
      expectExit(r, 5);
      assert.match(oneErrorLine(r), /cannot connect to database mysql:\/\/nobody@127\.0\.0\.1:1\/x: ECONNREFUSED/);
      const j = await cli.run(['add', 'a@example.com', 'Str0ng-passw0rd', '--db', url, '--json']);
      expectExit(j, 5);
      assert.equal(jsonError(j).code, 'DB_UNREACHABLE');
    } else {
      // a SQLite file that does not exist is a database that cannot be opened (5), not "no such
      // subscriber" (3), which scripts test for; and a read does not create it (issue 11)
      expectExit(r, 5);
      assert.match(oneErrorLine(r), /does not exist.*db init/);
    }
    assert.doesNotMatch(r.stderr, STACK_LINE);
  });
});
