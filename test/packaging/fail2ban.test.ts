// contrib/fail2ban against Debian's fail2ban 1.0 and sipd's real log output: a sipp flood from
// 127.0.0.2 (flood-ban) and wrong passwords from sipsak (auth-lockout) make sipd write its
// security lines; fail2ban-regex with contrib's filter matches exactly the ban and lockout lines
// (not the banned-drop, auth-failed or alert lines around them), in sipd's JSON and text log
// formats; a fail2ban-server with a private configuration runs contrib's filter in a jail whose
// test action records the addresses it bans. Kamailio's pike line (stock kamailio.cfg) is matched
// by contrib's kamailio-pike filter.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDb, REPO, startSipd, type SipdProcess } from '../daemon/sipd-process.js';
import { sipctlFor, sippFlood } from '../attack/attack-tools.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { requireTools } from '../helpers/require.js';

const FILTERS = join(REPO, 'contrib', 'fail2ban', 'filter.d');

function regex(logFile: string, filter: string): { matched: number; missed: number; output: string } {
  const r = spawnSync('fail2ban-regex', ['--print-all-matched', logFile, join(FILTERS, filter)], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `fail2ban-regex failed:\n${r.stdout}${r.stderr}`);
  const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return { matched: Number(m[3]), missed: Number(m[4]), output: r.stdout };
}

async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('fail2ban: contrib filters and jail on real sipd output', () => {
  before(() => requireTools('fail2ban-regex', 'fail2ban-server', 'fail2ban-client', 'sipp', 'sipsak'));
  let dir: string;
  let sipd: SipdProcess | undefined;
  let log: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipd-fail2ban-'));
    const dbUrl = await makeDb(dir);
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir, { mode: 0o700 });
    sipd = await startSipd({ dbUrl, stateDir });
    const sipctl = sipctlFor(dbUrl, () => sipd);
    const add = await sipctl(['add', 'frank@127.0.0.1', 'Correct-Horse-77']);
    assert.equal(add.code, 0, add.stderr);
    await sipctl(['rpc', 'auth.reload']).catch(() => undefined);
    const flood = await sippFlood({ sipPort: sipd.sipPort, localIp: '127.0.0.2', rate: 400, calls: 800, timeoutMs: 8_000 });
    assert.equal(flood.successful, 16, flood.output.slice(-500));
    for (let i = 0; i < 5; i++) await sipsakRegister({ user: 'frank', password: `wrong-${i}`, domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: sipd.sipPort, contactPort: 5300 + i });
    await until(() => sipd!.lines().some((l) => l.event === 'auth-lockout'), 'the lockout line', 20_000);
    log = join(dir, 'sipd.log');
    writeFileSync(log, sipd.output());
  });
  after(async () => {
    if (sipd) await sipd.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('fail2ban-regex: the flood ban and the lockout, nothing else of sipd\'s log', () => {
    const lines = sipd!.lines();
    const bans = lines.filter((l) => l.msg === 'security event' && ['flood-ban', 'auth-lockout', 'spray-lockout'].includes(String(l.event)));
    assert.ok(lines.some((l) => l.event === 'banned-drop') || lines.some((l) => l.msg === 'alert'), 'the log also holds lines the filter must not match');
    const r = regex(log, 'sipd.conf');
    assert.equal(r.matched, bans.length, r.output);
    assert.match(r.output, /"event":"flood-ban","sourceIp":"127\.0\.0\.2"/);
    assert.match(r.output, /"event":"auth-lockout","sourceIp":"127\.0\.0\.1"/);
  });

  test('the text log format matches the same lines', () => {
    // sipd --log-format text writes `TS LEVEL msg key=value`; rebuild those lines from the JSON ones
    const text = sipd!.lines().map((l) => {
      const { ts, level, msg, ...rest } = l;
      return `${String(ts)} ${String(level).toUpperCase().padEnd(5)} ${String(msg)}${Object.entries(rest).map(([k, v]) => ` ${k}=${typeof v === 'string' && /^[\x21-\x7e]+$/.test(v) && !v.includes('"') ? v : JSON.stringify(v)}`).join('')}`;
    });
    const file = join(dir, 'sipd-text.log');
    writeFileSync(file, text.join('\n') + '\n');
    const r = regex(file, 'sipd.conf');
    const json = regex(log, 'sipd.conf');
    assert.equal(r.matched, json.matched, r.output);
  });

  test("Kamailio's pike line from the stock cfg matches kamailio-pike", () => {
    const file = join(dir, 'kamailio.log');
    writeFileSync(file, [
      'Dec  6 21:40:00 pbx /usr/sbin/kamailio[812]: ALERT: <script>: ALERT: pike blocking OPTIONS from sip:100@example.com (IP:192.0.2.7:5060)',
      'Dec  6 21:40:01 pbx /usr/sbin/kamailio[812]: ERROR: <script>: Malformed SIP request from 192.0.2.8:5060',
    ].join('\n') + '\n');
    const r = regex(file, 'kamailio-pike.conf');
    assert.equal(r.matched, 1, r.output);
    assert.match(r.output, /192\.0\.2\.7/);
  });

  test('a jail with contrib\'s filter and a test action bans the flooder and the locked-out address', async () => {
    const conf = join(dir, 'f2b');
    mkdirSync(join(conf, 'filter.d'), { recursive: true });
    mkdirSync(join(conf, 'action.d'));
    mkdirSync(join(conf, 'jail.d'));
    copyFileSync('/etc/fail2ban/filter.d/common.conf', join(conf, 'filter.d', 'common.conf'));
    copyFileSync(join(FILTERS, 'sipd.conf'), join(conf, 'filter.d', 'sipd.conf'));
    // contrib's jail file must parse too (its jails stay disabled here)
    copyFileSync(join(REPO, 'contrib', 'fail2ban', 'jail.d', 'sipd.conf'), join(conf, 'jail.d', 'sipd.conf'));
    const banned = join(dir, 'banned.txt');
    writeFileSync(join(conf, 'fail2ban.conf'), `[Definition]\nloglevel = INFO\nlogtarget = ${join(dir, 'f2b.log')}\nsocket = ${join(dir, 'f2b.sock')}\npidfile = ${join(dir, 'f2b.pid')}\ndbfile = :memory:\n`);
    writeFileSync(join(conf, 'action.d', 'record.conf'), `[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban = echo <ip> >> ${banned}\nactionunban =\n`);
    writeFileSync(join(conf, 'jail.conf'), `[DEFAULT]\nignoreip =\nignoreself = false\nbantime = 600\nfindtime = 600\n\n[sipd-test]\nenabled = true\nfilter = sipd\nbackend = polling\nlogpath = ${log}\nmaxretry = 1\naction = record\n`);
    const server = spawn('fail2ban-server', ['-f', '-x', '-c', conf, '-s', join(dir, 'f2b.sock'), '-p', join(dir, 'f2b.pid')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    server.stdout!.on('data', (d) => (out += d));
    server.stderr!.on('data', (d) => (out += d));
    try {
      await until(() => existsSync(banned) && readFileSync(banned, 'utf8').split('\n').filter(Boolean).length >= 2, 'two bans recorded', 90_000).catch((e: Error) => {
        throw new Error(`${e.message}\nserver: ${out}\nlog: ${existsSync(join(dir, 'f2b.log')) ? readFileSync(join(dir, 'f2b.log'), 'utf8').slice(-3000) : ''}`);
      });
      assert.deepEqual(readFileSync(banned, 'utf8').split('\n').filter(Boolean).sort(), ['127.0.0.1', '127.0.0.2']);
    } finally {
      spawnSync('fail2ban-client', ['-c', conf, '-s', join(dir, 'f2b.sock'), 'stop'], { timeout: 30_000 });
      try {
        if (server.exitCode === null) process.kill(-server.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
});
