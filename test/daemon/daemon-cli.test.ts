// `sipctl daemon start|stop|status|logs` as a user runs them: the built bin when the oclif
// manifest lists the daemon commands, otherwise each command class run through oclif in a child
// process (same flags, output and exit codes). sipd itself is the real built bin/sipd.js.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logTail, pickPort } from '../../src/core/daemon/daemon-control.js';
import { SIPD_NODE_FLAGS } from '../../src/core/daemon/node-flags.js';
import { REPO, assertBuilt, makeDb, options, statusOf, udpExchange } from './sipd-process.js';

const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
const useBuiltBin = 'daemon:start' in manifest.commands;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let env: NodeJS.ProcessEnv;
let stateDir: string;

function sipctl(args: string[], timeoutMs = 30_000): Promise<Run> {
  const [cmd, ...rest] = args; // 'daemon', verb, flags…
  const argv = useBuiltBin
    ? [join(REPO, 'bin', 'run.cjs'), ...args]
    : ['--import', 'tsx', '--input-type=module', '-e', `const { default: C } = await import(${JSON.stringify(join(REPO, 'src', 'commands', cmd, `${rest[0]}.ts`))}); await C.run(${JSON.stringify(rest.slice(1))}, ${JSON.stringify(REPO)});`];
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, argv, { env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`sipctl ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Hold a port (UDP and TCP, or TCP only) so sipctl has to pick another one. */
async function hold(port: number, udp: boolean): Promise<() => void> {
  const closers: Array<() => void> = [];
  const srv = net.createServer();
  await new Promise<void>((r) => {
    srv.once('error', () => r()); // someone else holds it already: just as good
    srv.listen({ host: '127.0.0.1', port }, () => (closers.push(() => srv.close()), r()));
  });
  if (udp) {
    const u = dgram.createSocket('udp4');
    await new Promise<void>((r) => {
      u.once('error', () => r());
      u.bind({ address: '127.0.0.1', port }, () => (closers.push(() => u.close()), r()));
    });
  }
  return () => closers.forEach((c) => c());
}

let release: Array<() => void> = [];

before(async () => {
  assertBuilt();
  const home = mkdtempSync(join(tmpdir(), 'sipctl-daemon-'));
  stateDir = join(home, 'state');
  const dbUrl = await makeDb(home);
  env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_STATE_HOME: join(home, '.state'), SIPCTL_DB: dbUrl, LANG: 'C.UTF-8' };
  // the defaults are taken: start must pick free ports and say so
  release = [await hold(5060, true), await hold(5071, false)];
});
after(async () => {
  await sipctl(['daemon', 'stop', '--state-dir', stateDir, '--force']).catch(() => undefined);
  release.forEach((r) => r());
});

test('status / stop when nothing runs: exit 3, one line on stderr', async () => {
  for (const verb of ['status', 'stop']) {
    const r = await sipctl(['daemon', verb, '--state-dir', stateDir]);
    assert.equal(r.code, 3, `${verb}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trim(), /^sipctl: sipd is not running \(state dir .*\)/);
  }
});

test('a pid file that cannot be read is an error naming it (exit 10), not \'not running\' (exit 3)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipd-state-'));
  try {
    mkdirSync(join(dir, 'sipd.pid')); // read(2) fails (EISDIR), also for root
    for (const verb of ['status', 'stop', 'start']) {
      const r = await sipctl(['daemon', verb, '--state-dir', dir]);
      assert.equal(r.code, 10, `${verb}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trim(), new RegExp(`^sipctl: cannot read sipd's pid file ${join(dir, 'sipd.pid')} \\(EISDIR\\)`), verb);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start: picks free ports when 5060 / 5071 are taken, says which, waits for RPC', async () => {
  const r = await sipctl(['daemon', 'start', '--state-dir', stateDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const started = JSON.parse(r.stdout) as { pid: number; listen: string[]; rpc: string[]; logFile: string; notes: string[] };
  assert.ok(started.pid > 0);
  // started as the sipd command starts it: with the Node.js options of its shebang
  const cmdline = readFileSync(`/proc/${started.pid}/cmdline`, 'utf8').split('\0');
  for (const f of SIPD_NODE_FLAGS) assert.ok(cmdline.includes(f), `${f} missing from ${cmdline.join(' ')}`);
  const sipPort = Number(/:(\d+)$/.exec(started.listen[0])![1]);
  assert.notEqual(sipPort, 5060);
  assert.deepEqual(started.listen, [`udp:127.0.0.1:${sipPort}`, `tcp:127.0.0.1:${sipPort}`]);
  assert.ok(started.rpc.some((u) => /^http:\/\/127\.0\.0\.1:\d+\/RPC$/.test(u) && !u.includes(':5071/')));
  assert.ok(started.rpc.includes(`unix:${join(stateDir, 'sipd.sock')}`));
  assert.equal(started.notes.length, 2, started.notes.join('; '));
  assert.match(started.notes[0], /SIP port 5060 on 127\.0\.0\.1 is in use; sipd listens on \d+ instead/);
  // the proxy answers (default scanner list: use a raw OPTIONS, not sipsak)
  assert.equal(statusOf(await udpExchange(sipPort, options(sipPort))), 200);

  const again = await sipctl(['daemon', 'start', '--state-dir', stateDir]);
  assert.equal(again.code, 4);
  assert.match(again.stderr, /already running \(pid \d+/);
});

test('status: pid, ports, uptime (human and --json)', async () => {
  const r = await sipctl(['daemon', 'status', '--state-dir', stateDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^status\trunning$/m);
  assert.match(r.stdout, /^pid\t\d+$/m);
  assert.match(r.stdout, /^sip\tudp:127\.0\.0\.1:\d+ tcp:127\.0\.0\.1:\d+$/m);
  assert.match(r.stdout, /^uptime\t\d+ s$/m);
  const j = JSON.parse((await sipctl(['daemon', 'status', '--state-dir', stateDir, '--json'])).stdout) as Record<string, unknown>;
  assert.equal(j.running, true);
  assert.ok(Array.isArray(j.modules) && (j.modules as string[]).includes('pike'));
  assert.equal(typeof j.uptime, 'number');
});

test('logs: prints the log, -n limits it, --follow shows what is appended', async () => {
  const all = await sipctl(['daemon', 'logs', '--state-dir', stateDir, '-n', '0']);
  assert.equal(all.code, 0);
  const lines = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l.msg === 'sipd started'));
  const one = await sipctl(['daemon', 'logs', '--state-dir', stateDir, '-n', '1']);
  assert.equal(one.stdout.trim().split('\n').length, 1);

  // --follow: a SIGHUP makes sipd log a reload line, which the follower prints
  const argv = useBuiltBin
    ? [join(REPO, 'bin', 'run.cjs'), 'daemon', 'logs', '--state-dir', stateDir, '-n', '0', '--follow']
    : ['--import', 'tsx', '--input-type=module', '-e', `const { default: C } = await import(${JSON.stringify(join(REPO, 'src/commands/daemon/logs.ts'))}); await C.run(${JSON.stringify(['--state-dir', stateDir, '-n', '0', '--follow'])}, ${JSON.stringify(REPO)});`];
  const f = spawn(process.execPath, argv, { env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  f.stdout.on('data', (d) => (out += d));
  const pid = Number(readFileSync(join(stateDir, 'sipd.pid'), 'utf8'));
  await new Promise((r) => setTimeout(r, 800));
  process.kill(pid, 'SIGHUP');
  const deadline = Date.now() + 5000;
  while (!out.includes('configuration reloaded')) {
    assert.ok(Date.now() < deadline, `follow printed:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  f.kill('SIGINT');
  await new Promise((r) => f.on('exit', r));
});

test('stop: SIGTERM, waits, state saved; then status says not running', async () => {
  const r = await sipctl(['daemon', 'stop', '--state-dir', stateDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sipd \(pid \d+\) stopped$/m);
  assert.ok(readFileSync(join(stateDir, 'htable.state.json'), 'utf8').includes('"ipban"'));
  assert.match(logTail(join(stateDir, 'sipd.log'), 1), /"msg":"sipd stopped"/);
  const st = await sipctl(['daemon', 'status', '--state-dir', stateDir]);
  assert.equal(st.code, 3, st.stdout + st.stderr);
});

test('start fails with the end of the log when sipd cannot start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-daemon-bad-'));
  writeFileSync(join(dir, 'sipd.json'), JSON.stringify({ modules: { pike: { reqs_density_per_unit: 0 } } }));
  const r = await sipctl(['daemon', 'start', '--state-dir', join(dir, 'st'), '--sipd-config', join(dir, 'sipd.json')]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /sipd exited during start \(exit code 10\)/);
  assert.match(r.stderr, /reqs_density_per_unit: must be at least 1/);
});

test('pickPort and logTail', async () => {
  const srv = net.createServer();
  const port = await new Promise<number>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, () => r((srv.address() as net.AddressInfo).port)));
  const picked = await pickPort('127.0.0.1', port, { udp: false });
  assert.notEqual(picked, port);
  srv.close();
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-logtail-'));
  const f = join(dir, 'l');
  writeFileSync(f, Array.from({ length: 100_000 }, (_, i) => `line ${i}`).join('\n') + '\n');
  assert.equal(logTail(f, 2), 'line 99998\nline 99999\n');
  assert.equal(logTail(join(dir, 'missing'), 5), '');
});
