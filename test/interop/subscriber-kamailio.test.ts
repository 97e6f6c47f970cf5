// Issue 2 interop: subscribers written by the sipctl CLI authenticate through a real Kamailio 5.6
// (auth_db on MariaDB and on SQLite), and a wrong password is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSipctl, isolatedEnv } from '../helpers/cli.js';
import { createTestDb, ENGINES, type TestDb } from '../helpers/db.js';
import { kamailioMissing, startKamailio, stopAllKamailio, type KamailioInstance } from '../helpers/kamailio.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';

after(stopAllKamailio);

for (const engine of ENGINES) {
  for (const authMode of ['ha1', 'plaintext'] as const) {
    describe(`sipctl subscriber → Kamailio auth_db [${engine}, ${authMode}]`, () => {
      before(() => requireComponent(kamailioMissing() ?? toolsMissing('sipsak')));
      let db: TestDb;
      let kam: KamailioInstance;
      let env: NodeJS.ProcessEnv;
      const sipctl = (...args: string[]) => runSipctl(args, { env });

      before(async () => {
        db = await createTestDb(engine, { init: false });
        env = isolatedEnv({ SIPCTL_DB: db.url, SIPCTL_DB_PASSWORD: db.password, SIPCTL_DOMAIN: '127.0.0.1' });
        // The schema is made by sipctl, and Kamailio must accept it (its modules check the version rows).
        const init = await sipctl('db', 'init');
        assert.equal(init.code, 0, init.stderr);
        const extra = authMode === 'plaintext' ? ['--store-plaintext'] : [];
        for (const [user, pw] of [['61312341234', 'supersecretpassword'], ['alice', 'Str0ng-enough-pw'], ['bob', 'Another-g00d-one']]) {
          const r = await sipctl('add', user, pw, ...extra);
          assert.equal(r.code, 0, r.stderr);
        }
        kam = await startKamailio({ dbUrl: db.fullUrl, authMode });
      });
      after(async () => {
        await kam?.stop();
        await db?.drop();
      });

      test('right password registers (sipsak, digest auth)', async () => {
        const r = await sipsakRegister({ user: '61312341234', password: 'supersecretpassword', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: kam.sipPort, contactPort: 5091 });
        assert.ok(r.ok, `sipsak failed (exit ${r.code}): ${r.output.slice(-800)}`);
        const ul = await kam.rpc('ul.dump');
        assert.match(JSON.stringify(ul), /sip:61312341234@127\.0\.0\.1:5091/);
      });

      test('wrong password is refused', async () => {
        const r = await sipsakRegister({ user: 'alice', password: 'not-the-password', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: kam.sipPort, contactPort: 5092 });
        assert.equal(r.ok, false);
        assert.notEqual(r.code, 0);
      });

      test('after sipctl passwd the new password works and the old one does not', async () => {
        const extra = authMode === 'plaintext' ? ['--store-plaintext'] : [];
        const p = await sipctl('passwd', 'bob', 'Changed-pw-2026', ...extra);
        assert.equal(p.code, 0, p.stderr);
        const good = await sipsakRegister({ user: 'bob', password: 'Changed-pw-2026', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: kam.sipPort, contactPort: 5093 });
        assert.ok(good.ok, good.output.slice(-800));
        const old = await sipsakRegister({ user: 'bob', password: 'Another-g00d-one', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: kam.sipPort, contactPort: 5093 });
        assert.equal(old.ok, false);
      });

      test('a removed subscriber can no longer register', async () => {
        const rm = await sipctl('rm', 'alice', '--yes');
        assert.equal(rm.code, 0, rm.stderr);
        const r = await sipsakRegister({ user: 'alice', password: 'Str0ng-enough-pw', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: kam.sipPort, contactPort: 5094 });
        assert.equal(r.ok, false);
      });
    });
  }
}
