/**
 * The built CLI: db init/status, config show/import-kamctlrc, file-mode refusal, --help on every
 * command, colour policy and usage errors.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO } from '../helpers/cli.js';
import { cliFor, ESC, expectExit, jsonError, oneErrorLine, show, STACK_LINE } from './cli-support.js';

const LAB_KAMCTLRC = fileURLToPath(new URL('../fixtures/kamailio/kamctlrc', import.meta.url));
const SHA_KAMCTLRC = fileURLToPath(new URL('../fixtures/foundation/kamctlrc.sha256', import.meta.url));

const tmp = mkdtempSync(join(tmpdir(), 'sipctl-cli-cfg-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const tmpPath = (name: string) => join(tmp, `${++n}-${name}`);

describe('db init / db status (SQLite)', () => {
  const cli = cliFor();

  test('db status of a missing SQLite file: exit 5 (not 3, "no such record"), and the file is not created', async () => {
    const path = tmpPath('absent.db');
    const r = await cli.run(['db', 'status', '--db', `sqlite://${path}`]);
    expectExit(r, 5);
    assert.match(oneErrorLine(r), /does not exist.*sipctl db init/);
    assert.equal(existsSync(path), false);
  });

  test('db init creates the file and the tables; db status --json then lists them all as ok with row counts', async () => {
    const path = tmpPath('new.db');
    const url = `sqlite://${path}`;
    const init = await cli.run(['db', 'init', '--db', url, '--json']);
    expectExit(init, 0);
    const doc = JSON.parse(init.stdout);
    assert.equal(doc.engine, 'sqlite');
    assert.equal(doc.dryRun, false);
    assert.deepEqual(doc.created, ['version', 'subscriber', 'address', 'trusted', 'location', 'location_attrs', 'htable', 'acc', 'acc_cdrs', 'mtree', 'domain', 'domain_attrs', 'dispatcher', 'dialplan', 'grp', 're_grp', 'dbaliases', 'speed_dial', 'uacreg', 'sipd_blocklist', 'sipd_country', 'sipd_country_override', 'sipd_timerule', 'sipd_rate', 'sipd_limits', 'sipd_ua_allow', 'sim']);
    assert.ok(existsSync(path));

    const dry = await cli.run(['db', 'init', '--db', url, '--dry-run']);
    expectExit(dry, 0);
    assert.match(dry.stdout, /nothing to create/);

    expectExit(await cli.run(['add', 'alice@example.com', 'Str0ng-passw0rd', '--db', url]), 0);
    const st = await cli.run(['db', 'status', '--json', '--db', url]);
    expectExit(st, 0);
    const status = JSON.parse(st.stdout);
    assert.equal(status.database, `sqlite://${path}`);
    const byName = Object.fromEntries(status.tables.map((x: { table: string }) => [x.table, x]));
    assert.deepEqual(byName.subscriber, { table: 'subscriber', owner: 'auth_db', expectedVersion: 7, version: 7, rows: 1, state: 'ok' });
    assert.equal(byName.version.rows, 27); // one version row per table

    const human = await cli.run(['db', 'status', '--db', url]);
    expectExit(human, 0);
    assert.match(human.stdout, /^subscriber\t7\t7\t1\tok\tauth_db$/m);
  });

  test('SIPCTL_DB is used when --db is not given', async () => {
    const path = tmpPath('env.db');
    const r = await cli.run(['db', 'init'], { env: { SIPCTL_DB: `sqlite://${path}` } });
    expectExit(r, 0);
    assert.ok(existsSync(path));
  });
});

describe('config show', () => {
  const cli = cliFor();

  test('masks passwords from the URL and from SIPCTL_DB_PASSWORD, in both output modes', async () => {
    const env = { SIPCTL_DB_PASSWORD: 'Env-secret-pw-1' };
    const args = ['config', 'show', '--db', 'mysql://kam:Url-secret-pw-2@db.example:3306/kamailio'];
    const human = await cli.run(args, { env });
    expectExit(human, 0);
    assert.match(human.stdout, /^db\tmysql:\/\/kam:\*\*\*\*@db\.example:3306\/kamailio\tflag$/m);
    assert.match(human.stdout, /^dbPassword\t\*\*\*\*\tenv \(SIPCTL_DB_PASSWORD\)$/m);
    const json = await cli.run([...args, '--json'], { env });
    expectExit(json, 0);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(doc.files, []);
    assert.equal(doc.settings.find((s: { key: string }) => s.key === 'dbPassword').value, '****');
    for (const r of [human, json]) {
      const out = r.stdout + r.stderr;
      assert.ok(!out.includes('Env-secret-pw-1') && !out.includes('Url-secret-pw-2'), show(r));
    }
  });

  test('--kamctlrc values appear with their source, the password masked', async () => {
    const r = await cli.run(['config', 'show', '--kamctlrc', LAB_KAMCTLRC, '--json']);
    expectExit(r, 0);
    const s = Object.fromEntries(JSON.parse(r.stdout).settings.map((x: { key: string; value: string; source: string }) => [x.key, x]));
    assert.deepEqual(s.db, { key: 'db', value: 'mysql://kamailio@localhost/kamailio', source: `kamctlrc (${LAB_KAMCTLRC})` });
    assert.equal(s.dbPassword.value, '****');
    assert.equal(s.domain.value, '127.0.0.1');
    assert.ok(!r.stdout.includes('kamailiorw'));
  });

  test('config file < env < flag, seen through a real command', async () => {
    const dbPath = tmpPath('prec.db');
    const cfg = tmpPath('prec.json');
    writeFileSync(cfg, JSON.stringify({ db: `sqlite://${dbPath}`, domain: 'file.example' }), { mode: 0o600 });
    expectExit(await cli.run(['db', 'init', '--config', cfg]), 0);
    const a = await cli.run(['add', 'bob', 'Str0ng-passw0rd', '--config', cfg]);
    expectExit(a, 0);
    assert.match(a.stdout, /bob@file\.example/);
    const b = await cli.run(['add', 'bob', 'Str0ng-passw0rd', '--config', cfg], { env: { SIPCTL_DOMAIN: 'env.example' } });
    expectExit(b, 0);
    assert.match(b.stdout, /bob@env\.example/);
    const c = await cli.run(['add', 'bob', 'Str0ng-passw0rd', '--config', cfg, '--domain', 'flag.example'], { env: { SIPCTL_DOMAIN: 'env.example' } });
    expectExit(c, 0);
    assert.match(c.stdout, /bob@flag\.example/);
  });

  test('a 0644 config file with dbPassword: exit 10 with the chmod hint for commands that use it; others warn (issue 11)', async () => {
    const cfg = tmpPath('open.json');
    writeFileSync(cfg, JSON.stringify({ db: 'mysql://kam@127.0.0.1/kamailio', dbPassword: 'File-secret-pw-3' }));
    chmodSync(cfg, 0o644);
    const r = await cli.run(['config', 'show', '--config', cfg]);
    expectExit(r, 0);
    assert.match(r.stderr, new RegExp(`^warning: config file .*readable by group or others.*chmod 600 ${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`));
    const j = await cli.run(['show', 'a@example.com', '--json'], { env: { SIPCTL_CONFIG: cfg } });
    expectExit(j, 10);
    assert.equal(jsonError(j).code, 'CONFIG_INSECURE_MODE');
    for (const x of [r, j]) assert.ok(!(x.stdout + x.stderr).includes('File-secret-pw-3'));

    chmodSync(cfg, 0o600);
    expectExit(await cli.run(['config', 'show', '--config', cfg]), 0);
  });

  const own = cliFor();
  test('the default config file ($XDG_CONFIG_HOME/sipctl/config.json) is checked too', async () => {
    const dir = join(own.env.XDG_CONFIG_HOME!, 'sipctl');
    const cfg = join(dir, 'config.json');
    const imp = await own.run(['config', 'import-kamctlrc', LAB_KAMCTLRC]);
    expectExit(imp, 0);
    assert.match(imp.stdout, new RegExp(`wrote ${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(statSync(cfg).mode & 0o777, 0o600);
    chmodSync(cfg, 0o640);
    // config show masks the password (warns); a command that uses it is refused
    const r = await own.run(['config', 'show']);
    expectExit(r, 0);
    assert.match(r.stderr, /^warning: .*chmod 600/);
    const db = await own.run(['db', 'status']);
    expectExit(db, 10);
    assert.match(db.stderr, /chmod 600/);
  });

  test('unknown keys in the config file: exit 10 naming the key', async () => {
    const cfg = tmpPath('typo.json');
    writeFileSync(cfg, JSON.stringify({ databse: 'x' }), { mode: 0o600 });
    const r = await cli.run(['config', 'show', '--config', cfg]);
    expectExit(r, 10);
    assert.match(oneErrorLine(r), /unknown key "databse"/);
  });
});

describe('config import-kamctlrc', () => {
  const cli = cliFor();

  test('writes a 0600 config file that config show then reads', async () => {
    const out = tmpPath('imported.json');
    const r = await cli.run(['config', 'import-kamctlrc', LAB_KAMCTLRC, '--output', out]);
    expectExit(r, 0);
    assert.ok(!(r.stdout + r.stderr).includes('kamailiorw'), show(r));
    assert.match(r.stdout, /dbPassword=\*\*\*\*/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { db: 'mysql://kamailio@localhost/kamailio', dbPassword: 'kamailiorw', domain: '127.0.0.1', storePlaintext: true });

    const s = await cli.run(['config', 'show', '--config', out, '--json']);
    expectExit(s, 0);
    const doc = JSON.parse(s.stdout);
    assert.deepEqual(doc.files, [out]);
    const byKey = Object.fromEntries(doc.settings.map((x: { key: string; value: string; source: string }) => [x.key, x]));
    assert.deepEqual(byKey.db, { key: 'db', value: 'mysql://kamailio@localhost/kamailio', source: `file (${out})` });
    assert.deepEqual(byKey.domain, { key: 'domain', value: '127.0.0.1', source: `file (${out})` });
    assert.deepEqual(byKey.dbPassword, { key: 'dbPassword', value: '****', source: `file (${out})` });
    assert.ok(!s.stdout.includes('kamailiorw'));
  });

  test('refuses to overwrite without --force (exit 4); --dry-run writes nothing', async () => {
    const out = tmpPath('twice.json');
    expectExit(await cli.run(['config', 'import-kamctlrc', LAB_KAMCTLRC, '--output', out]), 0);
    const again = await cli.run(['config', 'import-kamctlrc', SHA_KAMCTLRC, '--output', out, '--json']);
    expectExit(again, 4);
    assert.equal(jsonError(again).code, 'CONFIG_EXISTS');
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).domain, '127.0.0.1', 'unchanged');

    const forced = await cli.run(['config', 'import-kamctlrc', SHA_KAMCTLRC, '--output', out, '--force']);
    expectExit(forced, 0);
    const s = JSON.parse((await cli.run(['config', 'show', '--config', out, '--json'])).stdout);
    const v = Object.fromEntries(s.settings.map((x: { key: string; value: string }) => [x.key, x.value]));
    assert.deepEqual({ db: v.db, domain: v.domain, hash: v.hash, storePlaintext: v.storePlaintext }, {
      db: 'mysql://rw@db.example.com:3307/kam',
      domain: 'sip.example.com',
      hash: 'sha256',
      storePlaintext: 'true',
    });

    const dryOut = tmpPath('dry.json');
    const dry = await cli.run(['config', 'import-kamctlrc', LAB_KAMCTLRC, '--output', dryOut, '--dry-run']);
    expectExit(dry, 0);
    assert.match(dry.stdout, /^would write /);
    assert.equal(existsSync(dryOut), false);
  });

  test('a missing kamctlrc: exit 10 naming it', async () => {
    const r = await cli.run(['config', 'import-kamctlrc', join(tmp, 'no-kamctlrc'), '--output', tmpPath('x.json')]);
    expectExit(r, 10);
    assert.match(oneErrorLine(r), /no-kamctlrc/);
  });
});

describe('help, colour and usage errors', () => {
  const cli = cliFor({ FORCE_COLOR: '1', CLICOLOR_FORCE: '1' }); // NO_COLOR=1 must still win
  const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
  const ids = Object.keys(manifest.commands).sort();

  test('the manifest lists the foundation commands', () => {
    for (const id of ['add', 'passwd', 'rm', 'show', 'config:show', 'config:import-kamctlrc', 'db:init', 'db:status', 'subscriber:add', 'subscriber:import', 'subscriber:list', 'subscriber:passwd', 'subscriber:rm', 'subscriber:show']) {
      assert.ok(ids.includes(id), `${id} in oclif.manifest.json`);
    }
  });

  test('--help works on every command: exit 0, usage on stdout, no ESC bytes under NO_COLOR', async () => {
    const queue = [[], ...ids.map((id) => id.split(':'))];
    const results: Array<{ argv: string[]; r: Awaited<ReturnType<typeof cli.run>> }> = [];
    // a few at a time: each is a separate node process
    while (queue.length) {
      const chunk = queue.splice(0, 4);
      results.push(...(await Promise.all(chunk.map(async (argv) => ({ argv, r: await cli.run([...argv, '--help']) })))));
    }
    for (const { argv, r } of results) {
      const name = argv.join(' ') || '(root)';
      expectExit(r, 0);
      assert.match(r.stdout, /USAGE/, name);
      if (argv.length) assert.match(r.stdout, new RegExp(`\\$ sipctl ${argv.join(' ')}`), name);
      assert.ok(!(r.stdout + r.stderr).includes(ESC), `ESC byte in help of ${name}`);
    }
  });

  test('NO_COLOR: no ESC bytes in tables, records or errors even with FORCE_COLOR/CLICOLOR_FORCE', async () => {
    const path = tmpPath('color.db');
    const runs = [
      await cli.run(['db', 'init', '--db', `sqlite://${path}`]),
      await cli.run(['add', 'alice@example.com', 'Str0ng-passw0rd', '--db', `sqlite://${path}`]),
      await cli.run(['db', 'status', '--db', `sqlite://${path}`]),
      await cli.run(['show', 'alice@example.com', '--db', `sqlite://${path}`]),
      await cli.run(['show', 'nobody@example.com', '--db', `sqlite://${path}`]),
      await cli.run(['config', 'show']),
      await cli.run(['show', '--bogus-flag']),
    ];
    for (const r of runs) assert.ok(!(r.stdout + r.stderr).includes(ESC), show(r));
    assert.deepEqual(runs.map((r) => r.code), [0, 0, 0, 0, 3, 0, 2]);
  });

  test('usage errors exit 2 with a one-line message and a pointer to --help', async () => {
    const bogus = await cli.run(['show', '--bogus-flag']);
    expectExit(bogus, 2);
    assert.match(bogus.stderr, /^sipctl: Nonexistent flag: --bogus-flag\nSee: sipctl show --help\n$/);
    expectExit(await cli.run(['subscriber', 'add', 'x@example.com', 'Str0ng-passw0rd', '--hash', 'sha1', '--db', 'sqlite:///nonexistent/x.db']), 2);
    expectExit(await cli.run(['subscriber', 'add']), 2);
    expectExit(await cli.run(['show', 'a', 'b', 'c']), 2);
    const badUrl = await cli.run(['show', 'a@example.com', '--db', 'postgres://x@h/db']);
    expectExit(badUrl, 2);
    assert.match(oneErrorLine(badUrl), /unsupported database URL scheme/);
  });

  test('a bad flag value is a usage error (exit 2), not an internal one', async () => {
    for (const args of [['subscriber', 'list', '--limit', 'abc'], ['subscriber', 'list', '--page', '0']]) {
      const r = await cli.run([...args, '--db', 'sqlite:///nonexistent/x.db']);
      expectExit(r, 2);
      assert.doesNotMatch(r.stderr, /this is a bug/);
    }
  });

  test('no run here printed a stack trace', () => {
    const all = [...cli.runs];
    assert.ok(all.length > 10);
    for (const { args, r } of all) assert.doesNotMatch(r.stderr, STACK_LINE, `${args.join(' ')}\n${show(r)}`);
  });
});
