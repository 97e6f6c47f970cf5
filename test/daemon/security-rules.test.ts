// Issue 13 rules against a real sipd: the IP blocklist (a blocklisted source gets nothing back,
// real sipp REGISTERs from loopback sources 127.0.0.x), country rules for registrations with the
// override table mapping loopback sources to test countries, and the time rules' RPC. Every
// change goes through the built sipctl, so the commands' reload reaches the running sipd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { requireComponent, toolsMissing } from '../helpers/require.js';
import { sippRegister } from '../attack/attack-tools.js';
import { makeDb, startSipd, statusOf, udpExchange, type SipdProcess } from './sipd-process.js';

function register(port: number, user: string, from: string, n: number): string {
  return [
    `REGISTER sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${from}:5999;branch=z9hG4bK-rules-${n}-${Date.now()};rport`,
    `From: <sip:${user}@127.0.0.1>;tag=r${n}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: rules-${n}-${process.pid}@test`,
    `CSeq: ${n} REGISTER`,
    `Contact: <sip:${user}@${from}:5999>`,
    'Max-Forwards: 70',
    'Expires: 60',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('sipd security rules (blocklist, country, time rules) with sipctl and sipp', () => {
  let dir: string;
  let sipd: SipdProcess;
  let env: NodeJS.ProcessEnv;
  const sipctl = async (...args: string[]) => {
    const r = await runSipctl(args, { env });
    assert.equal(r.code, 0, `sipctl ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  before(async () => {
    requireComponent(toolsMissing('sipp'));
    dir = mkdtempSync(join(tmpdir(), 'sipd-rules-'));
    const dbUrl = await makeDb(dir);
    env = isolatedEnv({ SIPCTL_DB: dbUrl, NO_COLOR: '1' });
    await sipctl('add', 'alice@127.0.0.1', 'Str0ng-enough-pw1', '--store-plaintext');
    // overrides only (source none): the loopback test countries need no data set, and start-up stays quick
    sipd = await startSipd({ dbUrl, config: { domain: ['127.0.0.1'], modules: { scanner: { user_agents: ['friendly-scanner'] }, country: { source: 'none' } } } });
    env = { ...env, SIPCTL_RPC: sipd.rpcUrl };
  });
  after(async () => {
    await sipd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (env?.HOME) rmSync(env.HOME, { recursive: true, force: true });
  });

  const reg = (localIp: string) =>
    sippRegister({ sipPort: sipd.sipPort, user: 'alice', password: 'Str0ng-enough-pw1', localIp, timeoutMs: 20_000 });

  test('a blocklisted source gets nothing back; another source registers; removing the entry lets it in again', async () => {
    const before = await reg('127.0.0.3');
    assert.equal(before.successful, 1, `sipp from 127.0.0.3 before the blocklist:\n${before.stdout}\n${before.stderr}`);
    await sipctl('blocklist', 'add', '127.0.0.3', '--reason', 'test scanner');
    const blocked = await reg('127.0.0.3');
    assert.equal(blocked.successful, 0, 'a blocklisted source must not register');
    assert.equal(statusOf(await udpExchange(sipd.sipPort, register(sipd.sipPort, 'alice', '127.0.0.3', 1), { bindAddress: '127.0.0.3', timeoutMs: 1500 })), undefined, 'no reply at all to a blocklisted source');
    const other = await reg('127.0.0.4');
    assert.equal(other.successful, 1, `another source still registers:\n${other.stdout}`);
    const stats = await sipd.rpc<{ entries: number; dropped: number }>('blocklist.stats');
    assert.equal(stats.entries, 1);
    assert.ok(stats.dropped >= 2, `dropped ${stats.dropped}`);
    await sipctl('blocklist', 'rm', '127.0.0.3', '--yes');
    assert.equal((await reg('127.0.0.3')).successful, 1, 'registers again once unblocked');
  });

  test('country rules: register allow list by the override table (127.0.0.6 → DE allowed, 127.0.0.5 → FR refused with 403)', async () => {
    await sipctl('country', 'override', 'add', '127.0.0.5', 'FR');
    await sipctl('country', 'override', 'add', '127.0.0.6', 'DE');
    await sipctl('country', 'allow', 'DE', '--for', 'register');
    const look = await sipctl('country', 'lookup', '127.0.0.5', '--json');
    assert.deepEqual(JSON.parse(look.stdout), { ip: '127.0.0.5', country: 'FR', source: 'override' });
    const fr = await udpExchange(sipd.sipPort, register(sipd.sipPort, 'alice', '127.0.0.5', 2), { bindAddress: '127.0.0.5', timeoutMs: 3000 });
    assert.match(fr ?? '', /^SIP\/2\.0 403 Originating country not allowed\r\n/);
    assert.equal((await reg('127.0.0.5')).successful, 0, 'sipp from FR refused');
    const de = await reg('127.0.0.6');
    assert.equal(de.successful, 1, `sipp from DE registers:\n${de.stdout}`);
    // unknown country (no override, no data): allowed by default (country.unknown = allow)
    assert.equal((await reg('127.0.0.7')).successful, 1);
    await sipctl('country', 'rm', 'DE', '--for', 'register', '--yes');
    assert.equal((await reg('127.0.0.5')).successful, 1, 'no rule left: FR registers');
    const lines = sipd.lines().filter((l) => l.event === 'country-refused');
    assert.ok(lines.length >= 1, 'the refusal is a security event');
  });

  test('time rules: sipd reads them and decides with its clock (timerule.check)', async () => {
    await sipctl('timerule', 'add', '+49', '20000101T000000|PT1H'); // one hour in 2000: always outside now
    await sipctl('timerule', 'add', '+33', '20000101T000000|PT24H|daily'); // every day, all day
    const de = await sipd.rpc<{ allowed: boolean; applicable: number[] }>('timerule.check', ['+4930123456', 'alice']);
    assert.equal(de.allowed, false);
    assert.equal(de.applicable.length, 1);
    const fr = await sipd.rpc<{ allowed: boolean }>('timerule.check', ['+33123456789', 'alice']);
    assert.equal(fr.allowed, true);
    const none = await sipd.rpc<{ allowed: boolean; applicable: number[] }>('timerule.check', ['+44123', 'alice']);
    assert.deepEqual(none, { allowed: true, applicable: [] });
    const out = await sipctl('timerule', 'check', '+4930123456', '--json');
    assert.equal(JSON.parse(out.stdout).allowed, false);
  });
});
