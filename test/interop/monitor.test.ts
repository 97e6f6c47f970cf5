// sipctl monitor (alias top) in a real terminal — tmux, the screen read back with capture-pane —
// against sipd and against the lab Kamailio 5.6 under sipp load (the lab's OPTIONS scenario from
// 127.0.0.1, plus a flood from 127.0.0.2 that pike bans into ipban): screen content, p pauses,
// q quits and the terminal leaves the alternate screen; off a terminal, JSON snapshots that match
// schemas/monitor.json and show the request rate sipp makes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertFreshBuild } from '../helpers/build.js';
import { REPO, SIPCTL, isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { SchemaSet } from '../helpers/json-schema.js';
import { LAB_DIR, findFreePort, kamailioMissing, startKamailio, type KamailioInstance } from '../helpers/kamailio.js';
import { requireComponent, requireTools } from '../helpers/require.js';
import { makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';

const schemas = new SchemaSet(join(REPO, 'schemas'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A private tmux server running `sipctl monitor` in a 120x40 window. */
class TmuxMonitor {
  readonly socket = `sipctl-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(rpcUrl: string, extra: string[] = []) {
    assertFreshBuild();
    const env = isolatedEnv();
    const cmd = ['env', '-i', `PATH=${env.PATH}`, `HOME=${env.HOME}`, `XDG_CONFIG_HOME=${env.XDG_CONFIG_HOME}`, 'LANG=C.UTF-8', 'TERM=xterm-256color', `SIPCTL_RPC=${rpcUrl}`, process.execPath, SIPCTL, 'monitor', ...extra]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(' ');
    // after the monitor exits, the pane stays (remain-on-exit) so its last screen and exit status can be read
    this.tmux('new-session', '-d', '-x', '120', '-y', '40', `${cmd}; echo "MONITOR EXITED $?"; sleep 600`);
  }

  tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
    return r.stdout;
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', '0');
  }

  alternate(): boolean {
    return this.tmux('display-message', '-p', '-t', '0', '#{alternate_on}').trim() === '1';
  }

  /** Wait until the screen matches (the machine is shared and slow: generous). */
  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      last = this.screen();
      if (re.test(last)) return last;
      await sleep(250);
    }
    throw new Error(`screen never matched ${re}:\n${last}`);
  }

  keys(k: string): void {
    this.tmux('send-keys', '-t', '0', k);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { timeout: 10_000 });
  }
}

/** sipp sending the lab's OPTIONS scenario at `rate`/s from `ip` until killed. */
function sippOptions(target: string, ip: string, rate: number, dir: string): ChildProcess {
  const sf = join(dir, `options-${ip}.xml`);
  copyFileSync(join(LAB_DIR, 'sipp', 'options.xml'), sf);
  const child = spawn('sipp', [target, '-sf', sf, '-i', ip, '-p', '0', '-r', String(rate), '-m', String(rate * 120), '-l', String(rate * 4), '-recv_timeout', '2000', '-nostdin', '-timeout', '120s'], { cwd: dir, stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  return child;
}

function stopProcess(c: ChildProcess | undefined): void {
  if (!c?.pid || c.exitCode !== null) return;
  try {
    process.kill(-c.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

async function jsonSnapshots(rpcUrl: string, count: number): Promise<Array<Record<string, any>>> {
  const r = await runSipctl(['monitor', '--count', String(count), '--interval', '1'], { env: isolatedEnv({ SIPCTL_RPC: rpcUrl }), timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, count, r.stdout);
  const docs = lines.map((l) => JSON.parse(l) as Record<string, any>);
  for (const d of docs) assert.deepEqual(schemas.validate('monitor.json', d), [], JSON.stringify(d));
  return docs;
}

describe('sipctl monitor against sipd', () => {
  let dir: string;
  let sipd: SipdProcess;
  let tm: TmuxMonitor | undefined;
  let sipp: ChildProcess | undefined;

  before(async () => {
    requireTools('tmux', 'sipp');
    dir = mkdtempSync(join(tmpdir(), 'sipctl-monitor-'));
    sipd = await startSipd({ dbUrl: await makeDb(dir) });
  });
  after(async () => {
    tm?.kill();
    stopProcess(sipp);
    await sipd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('on a terminal: the screen shows sipd, its rates, RSS; p pauses; q quits and restores the terminal', async () => {
    tm = new TmuxMonitor(sipd.rpcUrl);
    const s = await tm.waitFor(/replies\/s\s+1xx [\d.]+/);
    assert.ok(tm.alternate(), 'runs on the alternate screen');
    assert.match(s, /^sipctl monitor {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}every 1s {2}1 node\(s\)/);
    assert.match(s, /■ http:\/\/127\.0\.0\.1:\d+\/RPC {2}sipd \d+\.\d+\.\d+/);
    assert.match(s, /uptime {6}\d+s/);
    assert.match(s, /registered {2}0 users, 0 contacts/);
    assert.match(s, /ipban {7}0/);
    assert.match(s, /memory {6}rss [\d.]+ MiB/);
    assert.match(s, /q quit {2}p pause\s*$/);
    tm.keys('p');
    await tm.waitFor(/\[PAUSED\][\s\S]*p resume/);
    tm.keys('p');
    await tm.waitFor(/q quit {2}p pause\s*$/);
    tm.keys('q');
    const done = await tm.waitFor(/MONITOR EXITED 0/);
    assert.equal(tm.alternate(), false, 'back on the normal screen');
    assert.doesNotMatch(done, /requests\/s/, 'the monitor\'s screen is gone with the alternate screen');
    tm.kill();
    tm = undefined;
  });

  test('off a terminal under sipp load: JSON lines matching the schema, requests/s above zero', async () => {
    sipp = sippOptions(`127.0.0.1:${sipd.sipPort}`, '127.0.0.1', 20, dir);
    await sleep(1500);
    const docs = await jsonSnapshots(sipd.rpcUrl, 3);
    stopProcess(sipp);
    assert.equal(docs[0]!.nodes[0].requestsPerSec, null, 'no rate before a second sample');
    const later = docs.slice(1).map((d) => d.nodes[0]);
    assert.ok(later.some((n) => n.requestsPerSec > 0), JSON.stringify(later));
    assert.ok(later.some((n) => n.repliesPerSec['2xx'] > 0), 'the 200s sipd sent');
    assert.ok(later[1].memory.rss > 0);
    assert.deepEqual(later[1].missing, []);
  });
});

describe('sipctl monitor against Kamailio 5.6 under sipp load', () => {
  let dir: string;
  let t: TestDb;
  let k: KamailioInstance;
  let tm: TmuxMonitor | undefined;
  const sipps: ChildProcess[] = [];

  before(async () => {
    requireComponent(kamailioMissing());
    requireTools('tmux', 'sipp');
    dir = mkdtempSync(join(tmpdir(), 'sipctl-monitor-k-'));
    t = await createTestDb('sqlite');
    k = await startKamailio({ dbUrl: t.fullUrl });
    // steady OPTIONS from 127.0.0.1 (myself: the lab's pike check skips it), answered 200 Keepalive
    sipps.push(sippOptions(`127.0.0.1:${k.sipPort}`, '127.0.0.1', 40, dir));
    // a flood from 127.0.0.2: pike bans it into ipban
    sipps.push(sippOptions(`127.0.0.1:${k.sipPort}`, '127.0.0.2', 60, dir));
  });
  after(async () => {
    tm?.kill();
    for (const s of sipps) stopProcess(s);
    await k?.stop();
    await t?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('on a terminal: rates, shm/pkg memory, the flooding source banned in ipban, the missing dialog module as "—"', async () => {
    tm = new TmuxMonitor(k.rpcUrl);
    const s = await tm.waitFor(/requests\/s\s+[1-9][\d.]*[\s\S]*ipban\s+[1-9]\d*\s+newest: 127\.0\.0\.2/, 60_000);
    assert.match(s, /kamailio 5\.6\.\d+/);
    assert.match(s, /replies\/s\s+1xx [\d.]+ {2}2xx [1-9][\d.]*/);
    assert.match(s, /last min {4}\s*[▁▂▃▄▅▆▇█]+/);
    assert.match(s, /calls {7}—/);
    assert.match(s, /memory {6}shm [\d.]+ MiB \/ [\d.]+ MiB/);
    assert.match(s, /pkg [\d.]+ MiB \/ [\d.]+ MiB/);
    assert.match(s, /missing {5}dlg\.stats_active/);
    tm.keys('q');
    await tm.waitFor(/MONITOR EXITED 0/);
    assert.equal(tm.alternate(), false);
    tm.kill();
    tm = undefined;
  });

  test('off a terminal: snapshots show the request rate, pike\'s flooding source and Kamailio\'s memory', async () => {
    const docs = await jsonSnapshots(k.rpcUrl, 3);
    const n = docs[2]!.nodes[0];
    assert.ok(n.requestsPerSec > 0, JSON.stringify(n));
    assert.ok(n.repliesPerSec['2xx'] > 0);
    assert.ok(n.memory.shmUsed > 0 && n.memory.shmTotal >= n.memory.shmUsed);
    assert.ok(n.memory.pkgUsed > 0);
    assert.equal(n.memory.rss, null);
    assert.ok(n.bans.ipban.size >= 1);
    assert.ok(n.bans.ipban.newest.includes('127.0.0.2'), JSON.stringify(n.bans));
    assert.equal(n.activeCalls, null);
    assert.deepEqual(n.missing, ['dlg.stats_active']);
  });

  test('a node that does not answer: exit 5 after the snapshots, each saying why', async () => {
    const port = await findFreePort();
    const r = await runSipctl(['monitor', '--count', '1'], { env: isolatedEnv({ SIPCTL_RPC: `http://127.0.0.1:${port}/RPC` }) });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(JSON.parse(r.stdout).nodes[0].ok, false);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
