// Issue 16 part 1 through the BUILT sipctl: the quote-and-backslash strings of the injection
// corpus go through the commands a person types (add/show/passwd/rm, subscriber list/import,
// address add/show/rm, sim add/show/import/list, block add/list, calls history, a domain from
// the configuration), on SQLite, on MariaDB with NO_BACKSLASH_ESCAPES per session and on a
// private mariadbd with NO_BACKSLASH_ESCAPES globally. Each value comes back byte-exact or the
// command exits 2; row counts change only by the intended row. (The whole corpus runs through
// the same src/core functions in-process in sql-injection.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/core/db/database.js';
import { isolatedEnv, runSipctl, type RunResult } from '../helpers/cli.js';
import type { TestDb } from '../helpers/db.js';
import { openSqlModeDb, type SqlModeDb } from '../helpers/private-mariadb.js';
import { assertBuilt } from '../daemon/sipd-process.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const STRINGS = ["'; DROP TABLE subscriber; --", "\\'", "' OR '1'='1", "x', (SELECT ha1 FROM subscriber LIMIT 1)) -- x", '"`\\\\', 'Ω😀'];

const MODES: Array<{ name: string; engine: 'sqlite' | 'mysql'; sqlMode?: string; globalArgs?: string[] }> = [
  { name: 'sqlite', engine: 'sqlite' },
  { name: 'mariadb session NO_BACKSLASH_ESCAPES', engine: 'mysql', sqlMode: 'NO_BACKSLASH_ESCAPES' },
  { name: 'private mariadbd GLOBAL NO_BACKSLASH_ESCAPES,ANSI_QUOTES', engine: 'mysql', globalArgs: ['--sql-mode=NO_BACKSLASH_ESCAPES,ANSI_QUOTES'] },
];

const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Exit 0 and `check`, or exit 2 with one error line. */
function okOrUsage(r: RunResult, check: () => void): 'ok' | 'refused' {
  if (r.code === 2) {
    assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
    return 'refused';
  }
  assert.equal(r.code, 0, show(r));
  check();
  return 'ok';
}

for (const mode of MODES) {
  describe(`sipctl with injection strings [${mode.name}]`, () => {
    let opened: SqlModeDb | undefined;
    let t: TestDb;
    let db: Database;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    const s = (args: string[], input?: string, extra: Record<string, string> = {}) => runSipctl(args, { env: { ...env, ...extra }, input });
    const tally = { ok: 0, refused: 0 };
    const count = async (table: string) => Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);

    before(async () => {
      assertBuilt();
      opened = await openSqlModeDb(mode);
      ({ t, db } = opened);
      dir = mkdtempSync(join(tmpdir(), 'sipctl-inj-'));
      env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
      const canary = await s(['add', 'canary@example.com', '--password-stdin'], PASSWORD);
      assert.equal(canary.code, 0, show(canary));
    });
    after(async () => {
      await opened?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (env?.HOME) rmSync(env.HOME, { recursive: true, force: true });
      console.log(`[${mode.name}] CLI cases: ${tally.ok} round-tripped, ${tally.refused} refused with exit 2`);
    });

    test('address add TAG / show / rm', async () => {
      for (const [i, evil] of STRINGS.entries()) {
        const ip = `192.0.2.${i + 1}`;
        const before = await count('address');
        const r = await s(['address', 'add', '7', ip, '32', '0', evil]);
        tally[okOrUsage(r, () => undefined)]++;
        if (r.code === 0) {
          assert.equal(await count('address'), before + 1);
          const shown = JSON.parse((await s(['address', 'show', '--group', '7', '--json'])).stdout) as Array<{ ip: string; tag: string }>;
          assert.deepEqual(shown.filter((x) => x.ip === ip).map((x) => x.tag), [evil]);
          assert.equal((await s(['address', 'rm', '7', ip, '--yes'])).code, 0);
        }
        assert.equal(await count('address'), before);
      }
    });

    test("add / show / passwd / subscriber list / rm with a ' in the username; a domain from the config", async () => {
      for (const evil of STRINGS) {
        const user = `u${evil}@example.com`;
        const before = await count('subscriber');
        const r = await s(['add', user, '--password-stdin'], PASSWORD);
        tally[okOrUsage(r, () => undefined)]++;
        if (r.code === 0) {
          assert.equal(await count('subscriber'), before + 1);
          assert.equal(JSON.parse((await s(['show', user, '--json'])).stdout).username, `u${evil}`);
          assert.equal((await s(['passwd', user, '--password-stdin'], PASSWORD + 'x')).code, 0);
          const listed = JSON.parse((await s(['subscriber', 'list', '--pattern', `u${evil}`, '--json'])).stdout);
          assert.ok(JSON.stringify(listed).includes(JSON.stringify(`u${evil}`)), JSON.stringify(listed));
          assert.equal((await s(['rm', user, '--yes'])).code, 0);
        }
        assert.equal(await count('subscriber'), before);
        const shown = await s(['show', `${evil}@example.com`]);
        assert.ok(shown.code === 3 || shown.code === 2, show(shown));
        const listed = await s(['subscriber', 'list', '--pattern', evil, '--json']);
        tally[okOrUsage(listed, () => assert.ok(!listed.stdout.includes('canary'), listed.stdout))]++;
        // the configured domain
        const viaConfig = await s(['add', 'alice', '--password-stdin'], PASSWORD, { SIPCTL_DOMAIN: evil });
        assert.equal(viaConfig.code, 2, show(viaConfig));
        tally.refused++;
      }
      const canary = JSON.parse((await s(['show', 'canary@example.com', '--json', '--reveal'])).stdout);
      assert.equal(canary.username, 'canary');
      assert.equal(await count('subscriber'), 1);
    });

    test('subscriber import with quotes in usernames', async () => {
      const file = join(dir, 'users.csv');
      const field = (x: string) => '"' + x.replace(/"/g, '""') + '"';
      writeFileSync(file, ['username,domain,password', ...STRINGS.map((e) => `${field('i' + e)},example.com,${PASSWORD}`)].join('\n') + '\n');
      const before = await count('subscriber');
      const r = await s(['subscriber', 'import', file, '--json']);
      assert.ok(r.code === 0 || r.code === 2, show(r));
      const added = await count('subscriber') - before;
      for (const e of STRINGS) {
        const one = await s(['show', `i${e}@example.com`, '--json']);
        if (one.code === 0) {
          assert.equal(JSON.parse(one.stdout).username, 'i' + e);
          tally.ok++;
          assert.equal((await s(['rm', `i${e}@example.com`, '--yes'])).code, 0);
        } else tally.refused++;
      }
      assert.ok(added <= STRINGS.length);
      assert.equal(await count('subscriber'), before);
    });

    test('sim add --batch / show / list --batch / import', async () => {
      const ki = join(dir, 'ki.hex');
      const opc = join(dir, 'opc.hex');
      writeFileSync(ki, '465b5ce8b199b49faa5f0a2ee238a6bc\n', { mode: 0o600 });
      writeFileSync(opc, 'cd63cb71954a9f4e48a5994e37a02baf\n', { mode: 0o600 });
      for (const [i, evil] of STRINGS.entries()) {
        const imsi = `00101000000${String(i).padStart(4, '0')}`;
        const before = await count('sim');
        const r = await s(['sim', 'add', imsi, '--ki-file', ki, '--opc-file', opc, '--batch', evil, '--vendor', evil]);
        tally[okOrUsage(r, () => undefined)]++;
        if (r.code === 0) {
          assert.equal(await count('sim'), before + 1);
          const one = JSON.parse((await s(['sim', 'show', imsi, '--json'])).stdout);
          assert.deepEqual([one.batch, one.vendor], [evil, evil]);
          const listed = JSON.parse((await s(['sim', 'list', '--batch', evil, '--json'])).stdout);
          assert.ok(JSON.stringify(listed).includes(imsi));
          assert.equal((await s(['sim', 'rm', imsi, '--yes'])).code, 0);
        }
        assert.equal(await count('sim'), before);
      }
      const file = join(dir, 'sims.csv');
      const field = (x: string) => '"' + x.replace(/"/g, '""') + '"';
      const kis = ['000102030405060708090a0b0c0d0e0f', '101112131415161718191a1b1c1d1e1f', '202122232425262728292a2b2c2d2e2f', '303132333435363738393a3b3c3d3e3f', '404142434445464748494a4b4c4d4e4f', '505152535455565758595a5b5c5d5e5f'];
      writeFileSync(file, ['imsi,ki,opc,batch', ...STRINGS.map((e, i) => `00101000001${String(i).padStart(4, '0')},${kis[i]},cd63cb71954a9f4e48a5994e37a02baf,${field(e)}`)].join('\n') + '\n', { mode: 0o600 });
      const before = await count('sim');
      const imp = await s(['sim', 'import', file, '--json']);
      assert.ok(imp.code === 0 || imp.code === 2, show(imp));
      for (const [i, e] of STRINGS.entries()) {
        const one = await s(['sim', 'show', `00101000001${String(i).padStart(4, '0')}`, '--json']);
        if (one.code === 0) {
          assert.equal(JSON.parse(one.stdout).batch, e);
          tally.ok++;
        } else tally.refused++;
      }
      assert.ok((await count('sim')) - before <= STRINGS.length);
    });

    test('block add --note / list; calls history filters', async () => {
      for (const [i, evil] of STRINGS.entries()) {
        const prefix = `+99${i}`;
        const before = await count('mtree');
        const r = await s(['block', 'add', prefix, '--note', evil, '--no-reload']);
        tally[okOrUsage(r, () => undefined)]++;
        if (r.code === 0) {
          assert.equal(await count('mtree'), before + 1);
          const listed = JSON.parse((await s(['block', 'list', '--json'])).stdout);
          assert.ok(JSON.stringify(listed).includes(JSON.stringify(evil)), JSON.stringify(listed));
          assert.equal((await s(['block', 'rm', prefix, '--no-reload', '--yes'])).code, 0);
        }
        assert.equal(await count('mtree'), before);
        const h = await s(['calls', 'history', '--user', evil, '--number', evil, '--json']);
        tally[okOrUsage(h, () => assert.equal(JSON.parse(h.stdout).total ?? JSON.parse(h.stdout).calls?.length ?? 0, 0, h.stdout))]++;
      }
    });
  });
}
