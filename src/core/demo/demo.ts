/**
 * The demo (`sipctl demo`, `npm run demo`, `bash scripts/demo.sh`): the main job end to end on
 * the embedded default, with the real sipctl commands shown as they run.
 *
 *   db init → add a subscriber → add a carrier address → daemon start (free ports when 5060 /
 *   5071 are taken) → REGISTER (sipp when installed, else the built-in UA) → ul dump → flood
 *   from 127.0.0.2 (bounded) → htable dump ipban → unban → htable dump ipban → daemon stop
 *
 * sipd runs in its own state directory (default `<state home>/sipd-demo`), so a sipd the user
 * runs in the default one is never touched; whatever happens, the demo's sipd is stopped at the
 * end (also on SIGINT / SIGTERM). Reruns are idempotent: an existing subscriber gets a fresh
 * password, an existing carrier address is kept, a demo sipd left running is stopped first.
 * Only loopback addresses are used.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageFile } from '../package-root.js';
import { daemonPaths, pickPort, readRuntime, runningPid, stopDaemon } from '../daemon/daemon-control.js';
import { SOCKET_NAME, defaultStateDir } from '../daemon/files.js';
import { flood, register } from './sip-ua.js';

export const DEMO_USER = 'demo';
export const DEMO_DOMAIN = '127.0.0.1';
export const CARRIER = { group: 1, ip: '127.0.0.3', tag: 'demo-carrier' };
export const FLOOD_SOURCE = '127.0.0.2';
/** requests in the flood and the time they are spread over: far above pike's 16 per 2 s, and bounded */
export const FLOOD = { count: 200, durationMs: 500 };

export type DemoClient = 'auto' | 'builtin' | 'sipp';

export interface DemoOptions {
  /** sipd's state directory (default: `sipd-demo` next to the default `sipd`) */
  stateDir?: string;
  /** who sends the REGISTER: sipp when installed (auto), or the built-in UA */
  client?: DemoClient;
  /** environment for sipctl and sipd (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** where the demo writes (default process.stdout) */
  write?: (text: string) => void;
}

export interface DemoResult {
  ok: boolean;
  stateDir: string;
  sipPort?: number;
  registeredWith?: 'sipp' | 'builtin';
  floodReplies?: number;
  failures: string[];
}

/** `<state home>/sipd-demo`: beside the default state directory, never it. */
export function demoStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const { SIPD_STATE_DIR: _ignored, ...rest } = env;
  return join(dirname(defaultStateDir(rest)), 'sipd-demo');
}

/** bin/run.cjs of this installation: found when first needed, not when the module loads. */
const sipctlBin = () => packageFile('bin', 'run.cjs');

/** Is `bin` an executable in one of PATH's directories? */
export function onPath(bin: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? '').split(':').some((d) => {
    if (!d) return false;
    try {
      accessSync(join(d, bin), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(e) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A REGISTER → 401 → REGISTER with credentials → 200 scenario for sipp; the user and credentials come from the CSV. */
const SIPP_SCENARIO = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="sipctl demo REGISTER">
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[field2] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field2]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[field2]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Expires: 300
      User-Agent: SIPp demo
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[field2] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field2]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[field2]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      [field1]
      Max-Forwards: 70
      Expires: 300
      User-Agent: SIPp demo
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
`;

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const baseEnv = opts.env ?? process.env;
  const write = opts.write ?? ((t: string) => void process.stdout.write(t));
  const stateDir = opts.stateDir ?? demoStateDir(baseEnv);
  const socket = `unix:${join(stateDir, SOCKET_NAME)}`;
  // sipctl reaches the demo's sipd through its unix socket, whatever ports it got
  const env: NodeJS.ProcessEnv = { ...baseEnv, SIPCTL_RPC: socket, SIPD_STATE_DIR: stateDir };
  const result: DemoResult = { ok: false, stateDir, failures: [] };
  const say = (text: string) => write(text.endsWith('\n') ? text : `${text}\n`);
  const fail = (what: string) => {
    result.failures.push(what);
    say(`!! ${what}`);
  };

  /** Run `sipctl args`, showing the command (`shown` replaces secrets) and what it printed. */
  const sipctl = async (args: string[], o: { input?: string; shown?: string[]; okCodes?: number[] } = {}): Promise<RunResult> => {
    say(`\n$ sipctl ${(o.shown ?? args).join(' ')}`);
    const r = await run(process.execPath, [sipctlBin(), ...args], env, { input: o.input });
    if (r.stdout) write(r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`);
    else if (r.code === 0 && !r.stderr) say('(nothing)');
    if (r.stderr) write(r.stderr.endsWith('\n') ? r.stderr : `${r.stderr}\n`);
    if (!(o.okCodes ?? [0]).includes(r.code)) fail(`sipctl ${(o.shown ?? args).join(' ')} exited ${r.code}`);
    return r;
  };

  let started = false;
  const stopIfRunning = async (): Promise<void> => {
    if (runningPid(daemonPaths(stateDir)) === undefined) return;
    try {
      await stopDaemon({ stateDir, timeoutMs: 15_000, force: true });
    } catch (e) {
      fail(`could not stop sipd: ${(e as Error).message}`);
    }
  };
  // Ctrl-C or a kill: still stop the demo's sipd
  const onSignal = (sig: NodeJS.Signals) => {
    void stopIfRunning().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const tmp = mkdtempSync(join(tmpdir(), 'sipctl-demo-'));
  try {
    say(`sipctl demo — sipd's state directory: ${stateDir}; sipctl talks to it through SIPCTL_RPC=${socket}`);

    if (runningPid(daemonPaths(stateDir)) !== undefined) {
      say('(a demo sipd from an earlier run is still running: stopping it first)');
      await stopIfRunning();
    }

    if ((await sipctl(['db', 'init'])).code !== 0) return result;

    // Letters, digits and dashes: passes sipctl's strength rules and fits in a sipp CSV field.
    const password = `Pw-${randomBytes(12).toString('base64url').replace(/[_-]/g, 'x')}-7`;
    const user = `${DEMO_USER}@${DEMO_DOMAIN}`;
    const add = await sipctl(['add', user, '--password-stdin'], { input: `${password}\n`, okCodes: [0, 4] });
    if (add.code === 4) {
      say('(the subscriber exists from an earlier run: giving it a fresh password)');
      if ((await sipctl(['passwd', user, '--password-stdin'], { input: `${password}\n` })).code !== 0) return result;
    } else if (add.code !== 0) return result;

    const addr = await sipctl(['address', 'add', String(CARRIER.group), CARRIER.ip, '32', '0', CARRIER.tag], { okCodes: [0, 4] });
    if (addr.code === 4) say('(the carrier address exists from an earlier run)');

    if ((await sipctl(['daemon', 'start', '--state-dir', stateDir])).code !== 0) return result;
    started = true;
    const rt = readRuntime(daemonPaths(stateDir));
    const udp = rt?.listen.find((l) => l.startsWith('udp:127.0.0.1:'));
    if (!udp) {
      fail('sipd has no UDP socket on 127.0.0.1');
      return result;
    }
    const sipPort = Number(udp.slice(udp.lastIndexOf(':') + 1));
    result.sipPort = sipPort;

    await sipctl(['address', 'dump']);

    // ---- REGISTER
    const client = opts.client ?? 'auto';
    const useSipp = client === 'sipp' || (client === 'auto' && onPath('sipp', baseEnv));
    let registered = false;
    if (useSipp) {
      result.registeredWith = 'sipp';
      const scenario = join(tmp, 'register.xml');
      const csv = join(tmp, 'users.csv');
      writeFileSync(scenario, SIPP_SCENARIO);
      writeFileSync(csv, `SEQUENTIAL\n${DEMO_USER};[authentication username=${DEMO_USER} password=${password}];${DEMO_DOMAIN}\n`, { mode: 0o600 });
      const localPort = await pickPort('127.0.0.1', 5090, { udp: true });
      // sipp's digest uri defaults to remote_ip:remote_port; sipd checks it against the Request-URI (RFC 2617 §3.2.2.5)
      const args = [`127.0.0.1:${sipPort}`, '-sf', scenario, '-inf', csv, '-i', '127.0.0.1', '-p', String(localPort), '-m', '1', '-auth_uri', DEMO_DOMAIN, '-recv_timeout', '4000', '-timeout', '15s', '-nostdin'];
      say(`\n$ sipp ${args.map((a) => (a.startsWith(tmp) ? a.slice(tmp.length + 1) : a)).join(' ')}   (REGISTER with digest auth as ${user})`);
      const r = await run('sipp', args, baseEnv, { timeoutMs: 20_000 });
      registered = r.code === 0;
      say(registered ? 'sipp: REGISTER → 401 → REGISTER with credentials → 200 OK' : `sipp exited ${r.code}\n${(r.stdout + r.stderr).split('\n').filter((l) => /unexpected|error|401|403/i.test(l)).slice(-5).join('\n')}`);
    } else {
      result.registeredWith = 'builtin';
      say(`\n(REGISTER as ${user} with the built-in UA${client === 'auto' ? ': sipp is not installed' : ''})`);
      // a steady port when free, so a rerun refreshes the same binding
      const localPort = await pickPort('127.0.0.1', 5099, { udp: true });
      const r = await register({ proxyHost: '127.0.0.1', proxyPort: sipPort, user: DEMO_USER, password, domain: DEMO_DOMAIN, localPort, expires: 300 });
      for (const l of r.log) say(l);
      registered = r.ok;
    }
    if (!registered) fail('the REGISTER did not succeed');

    await sipctl(['ul', 'dump']);

    // ---- flood
    say(`\n(flood: ${FLOOD.count} OPTIONS from ${FLOOD_SOURCE} within ${FLOOD.durationMs} ms — pike allows 16 per 2 s)`);
    let f;
    try {
      f = await flood({ proxyHost: '127.0.0.1', proxyPort: sipPort, localAddress: FLOOD_SOURCE, ...FLOOD });
    } catch (e) {
      fail(`cannot send from ${FLOOD_SOURCE}: ${(e as Error).message} (Linux routes all of 127.0.0.0/8 to lo; elsewhere add the alias first)`);
      return result;
    }
    result.floodReplies = f.replies;
    say(`sent ${f.sent} in ${f.elapsedMs} ms; ${f.replies} answered, the rest dropped once ${FLOOD_SOURCE} was banned`);
    const dump = await sipctl(['htable', 'dump', 'ipban']);
    if (!new RegExp(`^${FLOOD_SOURCE.replace(/\./g, '\\.')}\\t`, 'm').test(dump.stdout)) fail(`${FLOOD_SOURCE} is not in ipban`);
    await sipctl(['unban', FLOOD_SOURCE]);
    const after = await sipctl(['htable', 'dump', 'ipban']);
    if (after.stdout.includes(FLOOD_SOURCE)) fail(`${FLOOD_SOURCE} is still in ipban`);

    await sipctl(['daemon', 'stop', '--state-dir', stateDir]);
    started = false;
    result.ok = result.failures.length === 0;
    say(result.ok ? '\ndemo finished: every step worked' : `\ndemo finished with ${result.failures.length} problem(s)`);
    return result;
  } finally {
    if (started || runningPid(daemonPaths(stateDir)) !== undefined) await stopIfRunning();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    rmSync(tmp, { recursive: true, force: true });
  }
}
