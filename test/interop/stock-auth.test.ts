// Issue 11 §1 interop: on a real Kamailio 5.6 with Debian's STOCK auth_db settings (calculate_ha1 yes,
// password_column password — the lab kamailio.cfg keeps them, checked below), every way sipctl adds
// or changes a user ends in one of two outcomes: the user registers (sipsak, digest auth), or sipctl
// refused with the one-line explanation naming both ways out. Never "exit 0 and cannot register",
// except the one case the table cannot tell (an empty table): that add warns, and the test shows it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runSipctl, isolatedEnv, type RunResult } from '../helpers/cli.js';
import { createTestDb, ENGINES, type TestDb } from '../helpers/db.js';
import { findFreePort, kamailioMissing, LAB_CFG, startKamailio, stopAllKamailio, type KamailioInstance } from '../helpers/kamailio.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';

const STOCK_KAMCTLRC = fileURLToPath(new URL('../fixtures/kamailio/kamctlrc.debian-stock', import.meta.url));
const DOMAIN = '127.0.0.1';
const WAYS_OUT = /--store-plaintext.*"calculate_ha1", 0\).*"password_column", "ha1"\)/;

after(stopAllKamailio);

test("the Kamailio config under test keeps Debian's stock auth_db settings", () => {
  const cfg = readFileSync(LAB_CFG, 'utf8');
  assert.match(cfg, /^modparam\("auth_db", "calculate_ha1", yes\)$/m);
  assert.match(cfg, /^modparam\("auth_db", "password_column", "password"\)$/m);
});

for (const engine of ENGINES) {
  describe(`sipctl → Kamailio with stock auth_db (calculate_ha1 yes) [${engine}]`, () => {
    before(() => requireComponent(kamailioMissing() ?? toolsMissing('sipsak')));
    let db: TestDb;
    let kam: KamailioInstance;
    let env: NodeJS.ProcessEnv;
    const sipctl = (args: string[], input?: string) => runSipctl(args, { env, input });
    const registers = async (user: string, password: string) => {
      const r = await sipsakRegister({ user, password, domain: DOMAIN, proxyHost: '127.0.0.1', proxyPort: kam.sipPort, contactPort: await findFreePort('127.0.0.1', { udp: true }) });
      return { ok: r.ok, out: r.output.slice(-600) };
    };
    /** the refusal: exit 4, one line, both ways out; or else the user must register */
    const refused = (r: RunResult) => {
      assert.equal(r.code, 4, `expected the refusal, got exit ${r.code}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /keep plaintext passwords/);
      assert.match(lines[0], WAYS_OUT);
    };
    const ok = (r: RunResult) => assert.equal(r.code, 0, r.stdout + r.stderr);

    before(async () => {
      db = await createTestDb(engine);
      env = isolatedEnv({ SIPCTL_DB: db.url, SIPCTL_DB_PASSWORD: db.password, SIPCTL_DOMAIN: DOMAIN, NO_COLOR: '1' });
      kam = await startKamailio({ dbUrl: db.fullUrl, authMode: 'plaintext' });
    });
    after(async () => {
      await kam?.stop();
      await db?.drop();
    });

    test('empty table, default: the table cannot tell, so sipctl warns (ha1 only cannot register here)', async () => {
      const r = await sipctl(['add', 'first', 'Alpha-Tango-1234']);
      ok(r);
      assert.match(r.stderr, /^warning: stored ha1 only.*calculate_ha1 yes/);
      assert.match(r.stderr, WAYS_OUT);
      assert.equal((await registers('first', 'Alpha-Tango-1234')).ok, false, 'the warning was right: ha1 only does not work with calculate_ha1 yes');
    });

    test("--kamctlrc with Debian's stock kamctlrc: plaintext stored, registers", async () => {
      ok(await sipctl(['add', 'viarc', 'Kamctlrc-passw0rd-2', '--kamctlrc', STOCK_KAMCTLRC]));
      const r = await registers('viarc', 'Kamctlrc-passw0rd-2');
      assert.ok(r.ok, r.out);
    });

    test('default add on a table that keeps plaintext passwords: refused, not a user who cannot register', async () => {
      refused(await sipctl(['add', 'dflt', 'Default-passw0rd-3']));
      refused(await sipctl(['subscriber', 'add', 'dflt', 'Default-passw0rd-3', '--json']).then((r) => ({ ...r, stderr: JSON.parse(r.stderr).error.message + ' ' + JSON.parse(r.stderr).error.hint })));
    });

    test('--store-plaintext: registers', async () => {
      ok(await sipctl(['add', 'explicit', 'Echo-Kilo-2468', '--store-plaintext']));
      const r = await registers('explicit', 'Echo-Kilo-2468');
      assert.ok(r.ok, r.out);
    });

    test('passwd keeps a plaintext row plaintext: the new password registers, the old one does not', async () => {
      ok(await sipctl(['passwd', 'viarc', 'Changed-passw0rd-5']));
      const good = await registers('viarc', 'Changed-passw0rd-5');
      assert.ok(good.ok, good.out);
      assert.equal((await registers('viarc', 'Kamctlrc-passw0rd-2')).ok, false);
    });

    test('passwd of the ha1-only row: refused by default; with --store-plaintext it registers', async () => {
      refused(await sipctl(['passwd', 'first', 'Bravo-Delta-5678']));
      ok(await sipctl(['passwd', 'first', 'Bravo-Delta-5678', '--store-plaintext']));
      const r = await registers('first', 'Bravo-Delta-5678');
      assert.ok(r.ok, r.out);
    });

    test('subscriber import: refused by default; with --store-plaintext the imported user registers', async () => {
      const csv = 'username,domain,password\nimported,127.0.0.1,Lima-Oscar-1357\n';
      refused(await sipctl(['subscriber', 'import', '-'], csv));
      ok(await sipctl(['subscriber', 'import', '-', '--store-plaintext'], csv));
      const r = await registers('imported', 'Lima-Oscar-1357');
      assert.ok(r.ok, r.out);
    });
  });
}
