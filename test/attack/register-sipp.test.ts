// sipp (Debian sip-tester) REGISTERs with digest auth against sipd as shipped, for a subscriber
// added with sipctl: the right password registers and shows in `sipctl ul dump`, a wrong one
// is refused (and counted for the lockout), Expires: 0 removes the binding.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, makeDb, type SipdProcess } from '../daemon/sipd-process.js';
import { sipctlFor, sippRegister, startDefaultSipd } from './attack-tools.js';
import { requireTools } from '../helpers/require.js';

const PASSWORD = 'Kettle-Orbit-5523';

describe('sipp REGISTER with digest auth against sipd', () => {
  before(() => requireTools('sipp'));
  let dir: string;
  let dbUrl: string;
  let sipd: SipdProcess | undefined;
  let sipctl: ReturnType<typeof sipctlFor>;
  const ulRows = async () => {
    const r = await sipctl(['ul', 'dump']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map((l) => l.split('\t'));
  };

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-attack-reg-'));
    dbUrl = await makeDb(dir);
    sipctl = sipctlFor(dbUrl, () => sipd);
    const add = await sipctl(['add', 'carol@127.0.0.1', PASSWORD]);
    assert.equal(add.code, 0, add.stderr);
    sipd = await startDefaultSipd(dbUrl, dir);
  });
  after(async () => {
    if (sipd) await sipd.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('the right password: 200, and the binding is in sipctl ul dump', async () => {
    const r = await sippRegister({ sipPort: sipd!.sipPort, user: 'carol', password: PASSWORD, localPort: 6061, expires: 300 });
    assert.equal(r.code, 0, r.output.slice(-1500));
    assert.deepEqual([r.created, r.successful, r.failed], [1, 1, 0]);
    const rows = await ulRows();
    assert.equal(rows.length, 1, JSON.stringify(rows));
    const [aor, contact, expires, , ua] = rows[0]!;
    assert.equal(aor, 'carol');
    assert.equal(contact, 'sip:carol@127.0.0.1:6061');
    assert.ok(Number(expires) > 290 && Number(expires) <= 300, `expires ${expires}`);
    assert.equal(ua, 'SIPp-attack-tests');
    assert.ok(sipd!.lines().some((l) => l.msg === 'security event' && l.event === 'auth-failed') === false, 'no failed authentication logged');
  });

  test('a wrong password: the second REGISTER gets 401 again, nothing is bound, the failure is counted', async () => {
    // from another address, so this failure does not count against 127.0.0.1
    const r = await sippRegister({ sipPort: sipd!.sipPort, user: 'carol', password: 'Wrong-Guess-1', localIp: '127.0.0.5', localPort: 6062, expires: 300 });
    assert.equal(r.code, 1, r.output.slice(-1500));
    assert.deepEqual([r.created, r.successful, r.failed], [1, 0, 1]);
    assert.match(r.output, /while expecting '200'[^\n]*received 'SIP\/2\.0 401 Unauthorized/);
    assert.deepEqual((await ulRows()).map((row) => row[1]), ['sip:carol@127.0.0.1:6061'], 'only the good binding');
    const failed = sipd!.lines().filter((l) => l.event === 'auth-failed');
    assert.equal(failed.length, 1);
    assert.deepEqual({ ip: failed[0]!.sourceIp, user: failed[0]!.user, detail: failed[0]!.detail }, { ip: '127.0.0.5', user: 'carol', detail: 'invalid-credentials' });
    const ub = await sipctl(['htable', 'dump', 'userban']);
    assert.match(ub.stdout, /^127\.0\.0\.5::carol::auth_count\t1\tint$/m);
  });

  test('Expires: 0 with the same contact removes the binding', async () => {
    const r = await sippRegister({ sipPort: sipd!.sipPort, user: 'carol', password: PASSWORD, localPort: 6061, expires: 0 });
    assert.equal(r.code, 0, r.output.slice(-1500));
    assert.deepEqual(await ulRows(), []);
    const show = await sipctl(['ul', 'show', 'carol']);
    assert.equal(show.code, 3, 'not registered any more');
  });
});
