// The demo as a user runs it (bash scripts/demo.sh, the built code) in a fresh home: every step
// works on the embedded default, with sipp and with the built-in UA; a rerun is idempotent; the
// default ports taken → free ones, named; sipd is always stopped, also when the demo is
// interrupted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, assertBuilt } from '../daemon/sipd-process.js';
import { pidAlive } from '../../src/core/daemon/files.js';
import { requireTools } from '../helpers/require.js';

let home: string;
const env = () => ({
  PATH: process.env.PATH,
  HOME: home,
  XDG_CONFIG_HOME: join(home, '.config'),
  XDG_DATA_HOME: join(home, '.local', 'share'),
  XDG_STATE_HOME: join(home, '.local', 'state'),
  LANG: 'C.UTF-8',
  // the suite builds once before; a build here would rewrite dist/ under the other test files
  SIPCTL_DEMO_SKIP_INSTALL: '1',
});
const stateDir = () => join(home, '.local', 'state', 'sipd-demo');

function runDemo(extra: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn('bash', [join(REPO, 'scripts', 'demo.sh')], { env: { ...env(), ...extra }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => process.kill(-c.pid!, 'SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

/** The demo's sipd must be gone: no live pid in its pid file, no runtime file. */
function assertStopped(): void {
  const pidFile = join(stateDir(), 'sipd.pid');
  if (existsSync(pidFile)) assert.ok(!pidAlive(Number(readFileSync(pidFile, 'utf8').trim())), 'sipd still running');
  assert.ok(!existsSync(join(stateDir(), 'sipd.runtime.json')), 'runtime file left behind');
}

before(() => {
  assertBuilt();
  home = mkdtempSync(join(tmpdir(), 'sipctl-demo-home-'));
});
after(async () => {
  // whatever failed: no demo sipd outlives the test
  const pidFile = join(stateDir(), 'sipd.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(home, { recursive: true, force: true });
});

function assertFullFlow(out: string, client: 'sipp' | 'builtin'): void {
  for (const cmd of ['db init', 'add demo@127.0.0.1 --password-stdin', 'address add 1 127.0.0.3 32 0 demo-carrier', 'daemon start', 'address dump', 'ul dump', 'htable dump ipban', 'unban 127.0.0.2', 'daemon stop']) {
    assert.ok(out.includes(`$ sipctl ${cmd}`), `step "sipctl ${cmd}" shown:\n${out}`);
  }
  if (client === 'sipp') assert.match(out, /\$ sipp 127\.0\.0\.1:\d+ .*\nsipp: REGISTER → 401 → REGISTER with credentials → 200 OK/);
  else assert.match(out, /built-in UA.*\n.*→ 401 Unauthorized\n.*\(digest MD5 for demo, realm 127\.0\.0\.1\) → 200 OK/);
  // the registration in ul dump, the ban in ipban, then gone after unban
  assert.match(out, /\$ sipctl ul dump\n(?:demo\tsip:demo@127\.0\.0\.1:\d+\t\d+\t[^\n]*\n)+/);
  assert.match(out, /\$ sipctl address dump\n1\t127\.0\.0\.3\t32\t0\tdemo-carrier\t/);
  assert.match(out, /sent 200 in \d+ ms; 16 answered/);
  assert.match(out, /\$ sipctl htable dump ipban\n127\.0\.0\.2\t1\tint\n/);
  assert.match(out, /\$ sipctl unban 127\.0\.0\.2\nunbanned 127\.0\.0\.2: ipban entry removed/);
  assert.match(out, /\$ sipctl htable dump ipban\n\(nothing\)\n/);
  assert.match(out, /demo finished: every step worked/);
  assert.doesNotMatch(out, /^!! /m);
}

test('fresh home: the whole flow, SQLite created in the data directory, sipd stopped at the end', async () => {
  requireTools('sipp');
  const r = await runDemo();
  assert.equal(r.code, 0, r.out);
  assertFullFlow(r.out, 'sipp');
  assert.ok(existsSync(join(home, '.local', 'share', 'sipctl', 'sipctl.db')), 'the default SQLite database was created');
  assert.match(r.out, /\$ sipctl db init\ncreated: /);
  assertStopped();
});

test('rerun with the built-in UA, default ports taken: idempotent, free ports picked and named', async () => {
  // hold 5060 (UDP+TCP) and 5071 when free; when something else holds them, the demo must move anyway
  const held: Array<{ close(): void }> = [];
  const tryHold = async (make: () => Promise<{ close(): void }>) => {
    try {
      held.push(await make());
    } catch {
      /* already taken by someone else: just as good */
    }
  };
  const tcp = (port: number) =>
    new Promise<net.Server>((res, rej) => {
      const s = net.createServer().once('error', rej);
      s.listen({ host: '127.0.0.1', port, exclusive: true }, () => res(s));
    });
  const udp = (port: number) =>
    new Promise<dgram.Socket>((res, rej) => {
      const s = dgram.createSocket('udp4').once('error', rej);
      s.bind({ address: '127.0.0.1', port, exclusive: true }, () => res(s));
    });
  await tryHold(() => udp(5060));
  await tryHold(() => tcp(5060));
  await tryHold(() => tcp(5071));
  try {
    const r = await runDemo({ SIPCTL_DEMO_CLIENT: 'builtin' });
    assert.equal(r.code, 0, r.out);
    assertFullFlow(r.out, 'builtin');
    assert.match(r.out, /SIP port 5060 on 127\.0\.0\.1 is in use; sipd listens on \d+ instead/);
    assert.match(r.out, /RPC port 5071 on 127\.0\.0\.1 is in use; JSON-RPC listens on \d+ instead/);
    // a rerun (the first test ran in this home): the subscriber gets a new password, the address stays
    assert.match(r.out, /\$ sipctl db init\nschema up to date/);
    assert.match(r.out, /the subscriber exists from an earlier run: giving it a fresh password\)\n\n\$ sipctl passwd demo@127\.0\.0\.1 --password-stdin\nchanged password/);
    assert.match(r.out, /the carrier address exists from an earlier run/);
    assertStopped();
  } finally {
    for (const h of held) h.close();
  }
});

test('interrupted after sipd started (SIGTERM to the demo): sipd is stopped anyway', async () => {
  const c = spawn(process.execPath, ['--input-type=module', '-e', `const { runDemo } = await import(${JSON.stringify(join(REPO, 'dist', 'core', 'demo', 'demo.js'))}); await runDemo({ client: 'builtin' });`], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  while (!/sipd \d+\.\d+\.\d+ started \(pid \d+\)/.test(out)) {
    assert.ok(Date.now() < deadline, `sipd never started:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = Number(/started \(pid (\d+)\)/.exec(out)![1]);
  assert.ok(pidAlive(pid));
  c.kill('SIGTERM');
  assert.equal(await exited, 143, out);
  assert.ok(!pidAlive(pid), 'the demo stopped its sipd on SIGTERM');
  assertStopped();
});

test('sipctl demo --help (the oclif manifest lists the command)', async () => {
  const manifest = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
  assert.ok('demo' in manifest.commands, 'oclif.manifest.json lists the demo command (npm run docs)');
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = spawn(process.execPath, [join(REPO, 'bin', 'run.cjs'), 'demo', '--help'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0);
  assert.match(r.out, /--client=<option>/);
});
