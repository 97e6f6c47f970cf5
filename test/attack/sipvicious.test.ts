// SIPVicious (Debian's sipvicious 0.3.3) against sipd as shipped (default scanner list, default
// lockout), each tool from its own loopback address:
// - svmap with its default User-Agent (friendly-scanner) gets nothing back;
// - svcrack, past the User-Agent filter (-c sends none), is locked out after 3 wrong guesses
//   and never finds the password, not even when it reaches the right one;
// - svwar, also past the filter, gets the same answer for an existing and a missing user.
// Each negative result has a control showing the tool does work against sipd when nothing stops it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, makeDb, type SipdProcess } from '../daemon/sipd-process.js';
import { resultRows, sipctlFor, sippRegister, sipvicious, startDefaultSipd } from './attack-tools.js';
import { requireTools } from '../helpers/require.js';

const SECRET = 'Walrus-Piano-8812';

describe('sipvicious against sipd (default configuration)', () => {
  before(() => requireTools('svmap', 'svwar', 'svcrack', 'sipp'));
  let dir: string;
  let dbUrl: string;
  let sipd: SipdProcess | undefined;
  let sipctl: ReturnType<typeof sipctlFor>;
  const stat = async (name: string) => {
    const r = await sipd!.rpc<string[]>('stats.get_statistics', [name]);
    return Number(/= (-?\d+)$/.exec(r[0] ?? '')?.[1]);
  };

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-attack-sv-'));
    dbUrl = await makeDb(dir);
    sipctl = sipctlFor(dbUrl, () => sipd);
    for (const u of ['1001', '2002']) {
      const add = await sipctl(['add', `${u}@127.0.0.1`, SECRET]);
      assert.equal(add.code, 0, add.stderr);
    }
    sipd = await startDefaultSipd(dbUrl, dir);
  });
  after(async () => {
    if (sipd) await sipd.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('svmap with its default User-Agent gets no answer; the same scan without a User-Agent finds sipd', async () => {
    const port = String(sipd!.sipPort);
    const [scanner, control] = await Promise.all([
      sipvicious('svmap', ['-b', '127.0.0.2', '-P', '7060', '-p', port, '127.0.0.1'], { home: dir, timeoutMs: 20_000 }),
      sipvicious('svmap', ['-c', '-b', '127.0.0.7', '-P', '7061', '-p', port, '127.0.0.1'], { home: dir, timeoutMs: 20_000 }),
    ]);
    assert.equal(scanner.timedOut, false);
    assert.match(scanner.output, /found nothing/, scanner.output);
    assert.deepEqual(resultRows(scanner.output), []);
    const dropped = sipd!.lines().filter((l) => l.event === 'scanner-dropped');
    assert.ok(dropped.length >= 1, 'scanner-dropped logged');
    assert.deepEqual({ ip: dropped[0]!.sourceIp, method: dropped[0]!.method }, { ip: '127.0.0.2', method: 'OPTIONS' });
    assert.match(String(dropped[0]!.detail), /friendly-scanner/);
    // control: no User-Agent, so no filter: svmap sees sipd
    assert.deepEqual(resultRows(control.output), [[`127.0.0.1:${port}`, 'sipd 0.1.0']], control.output);
  });

  test('svcrack (no User-Agent) from 127.0.0.2 is locked out after 3 guesses and never finds the password', async () => {
    const dict = join(dir, 'passwords.txt');
    // the right password is the 5th guess, after the lockout
    writeFileSync(dict, ['123456', 'password', '1001', 'qwerty', SECRET, 'letmein', 'admin'].join('\n') + '\n');
    const before = { failures: await stat('auth:failures'), refused: await stat('auth:refused'), successes: await stat('auth:successes') };
    // -t 0.2: one guess per 0.2 s, below pike's 16 requests per 2 s, so only the lockout stops it
    const r = await sipvicious('svcrack', ['-c', '-x', '127.0.0.2', '-P', '7062', '-p', String(sipd!.sipPort), '-u', '1001', '-d', dict, '-t', '0.2', '--maximumtime', '3', '-v', '127.0.0.1'], { source: '127.0.0.2', home: dir, timeoutMs: 40_000 });
    assert.equal(r.timedOut, false, r.output);
    // it ends with its dictionary, or earlier when sipd stops answering: pike's refusal budget
    // (refusals_per_unit) silences the 403s to a source that keeps collecting them
    assert.match(r.output, /no more passwords|since we last received a response - stopping/);
    assert.match(r.output, /found nothing/, r.output);
    assert.deepEqual(resultRows(r.output), []);
    assert.doesNotMatch(r.output, new RegExp(SECRET));

    // exactly 3 failures counted, then every guess (the right one too) refused with 403 Try later
    assert.equal((await stat('auth:failures')) - before.failures, 3);
    // (the 4th guess at least: then the refusal budget may silence sipd, and svcrack gives up)
    assert.ok((await stat('auth:refused')) - before.refused >= 1, 'guesses after the 3rd refused');
    assert.equal((await stat('auth:successes')) - before.successes, 0);
    assert.equal(await stat('auth:lockouts'), 1);
    const lockout = sipd!.lines().find((l) => l.event === 'auth-lockout');
    assert.deepEqual({ ip: lockout?.sourceIp, user: lockout?.user }, { ip: '127.0.0.2', user: '1001' });
    const ub = await sipctl(['htable', 'dump', 'userban']);
    assert.equal(ub.code, 0, ub.stderr);
    assert.match(ub.stdout, /^127\.0\.0\.2::1001::auth_count\t3\tint$/m);
    assert.match(ub.stdout, /^127\.0\.0\.2::1001::last_auth\t\d+\tint$/m);
    // not a flood: the lockout, not pike, stopped it
    assert.doesNotMatch((await sipctl(['htable', 'dump', 'ipban'])).stdout, /127\.0\.0\.2/);

    // the right password from the locked-out address: still refused (sipp, which knows it)
    const locked = await sippRegister({ sipPort: sipd!.sipPort, user: '1001', password: SECRET, localIp: '127.0.0.2', timeoutMs: 15_000 });
    assert.equal(locked.successful, 0);
    assert.match(locked.output, /received 'SIP\/2\.0 403 Try later/);
    // the account itself is not locked: its owner elsewhere registers
    const owner = await sippRegister({ sipPort: sipd!.sipPort, user: '1001', password: SECRET, localIp: '127.0.0.1', timeoutMs: 15_000 });
    assert.equal(owner.successful, 1, owner.output.slice(-800));
  });

  test('control: svcrack with the right password before the third guess finds it (the tool works against sipd)', async () => {
    const dict = join(dir, 'short.txt');
    writeFileSync(dict, `123456\n${SECRET}\n`);
    const r = await sipvicious('svcrack', ['-c', '-x', '127.0.0.4', '-P', '7063', '-p', String(sipd!.sipPort), '-u', '2002', '-d', dict, '-t', '0.2', '--maximumtime', '3', '127.0.0.1'], { source: '127.0.0.4', home: dir, timeoutMs: 30_000 });
    assert.deepEqual(resultRows(r.output), [['2002', SECRET]], r.output);
  });

  test('svwar (no User-Agent) cannot tell an existing user from a missing one; with its User-Agent it gets nothing', async () => {
    const port = String(sipd!.sipPort);
    const war = (ext: string, source: string, localPort: string, extra: string[] = []) =>
      sipvicious('svwar', ['-c', '-x', source, '-P', localPort, '-p', port, '-e', ext, '--force', '--debug', '--maximumtime', '3', ...extra, '127.0.0.1'], { source, home: dir, timeoutMs: 30_000 });
    const [exists, absent, existsOpt, absentOpt, noForce, withUa] = await Promise.all([
      war('1001', '127.0.0.10', '7064'),
      war('1999', '127.0.0.11', '7065'),
      war('1001', '127.0.0.12', '7066', ['-m', 'OPTIONS']),
      war('1999', '127.0.0.13', '7067', ['-m', 'OPTIONS']),
      sipvicious('svwar', ['-c', '-x', '127.0.0.14', '-P', '7068', '-p', port, '-e', '1000-1010', '127.0.0.1'], { source: '127.0.0.14', home: dir, timeoutMs: 30_000 }),
      sipvicious('svwar', ['-x', '127.0.0.15', '-P', '7069', '-p', port, '-e', '1000-1010', '127.0.0.1'], { source: '127.0.0.15', home: dir, timeoutMs: 30_000 }),
    ]);
    // svwar prints every reply it got (--debug); with nonces, tags, branches, Call-IDs, the
    // scanner's own address and the extension itself blanked, an existing and a missing user get
    // the very same answers
    const norm = (s: string) =>
      s
        .replace(/nonce="[^"]+"/g, 'nonce="N"')
        .replace(/tag=[0-9a-f]+/g, 'tag=T')
        .replace(/branch=z9hG4bK-\d+/g, 'branch=B')
        .replace(/Call-ID: \d+/g, 'Call-ID: C')
        .replace(/"\d+"<sip:\d+@/g, '"E"<sip:E@')
        .replace(/127\.0\.0\.1[0-9]\b/g, 'SCANNER')
        .replace(/rport=\d+/g, 'rport=P');
    for (const [a, b, method] of [[exists, absent, 'REGISTER'], [existsOpt, absentOpt, 'OPTIONS']] as const) {
      assert.match(a.output, /SIP\/2\.0 [45]\d\d /, `${method}: svwar got answers:\n${a.output}`);
      assert.equal(norm(a.output), norm(b.output), `${method}: the answers differ for an existing and a missing user`);
      assert.match(a.output, /found nothing/);
      assert.doesNotMatch(a.output, /exists/);
    }
    // its own sanity check: an unknown user is challenged, so it refuses to enumerate at all
    assert.match(noForce.output, /SIP server replied with an authentication request for an unknown extension/);
    // with svwar's User-Agent (friendly-scanner): dropped, not a single answer
    assert.match(withUa.output, /timed out|No server response/, withUa.output);
    assert.deepEqual(resultRows(withUa.output), []);
  });
});
