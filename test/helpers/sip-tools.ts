/**
 * Thin wrappers around real SIP test clients (sipsak, sipp) for interop tests.
 * Every run has a hard timeout and is killed (whole process group) when it
 * expires, so a lost UDP reply never hangs a test.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LAB_DIR, findFreePort } from './kamailio.js';

export interface ToolResult {
  /** exit code (124 on timeout, 127 if the tool could not be started) */
  code: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr */
  output: string;
  timedOut: boolean;
  /** the argv that ran, for error messages */
  command: string[];
}

function which(bin: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin')
    .split(':')
    .some((d) => d && fs.existsSync(path.join(d, bin)));
}

export function sipsakAvailable(): boolean {
  return which('sipsak');
}

export function sippAvailable(): boolean {
  return which('sipp');
}

/** Run a program with a hard timeout; on expiry its whole process group is killed (code 124). */
export function runBounded(cmd: string, args: string[], opts: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<ToolResult & { ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    // never leave a client behind if the test process exits mid-run
    process.once('exit', kill);
    const finish = (code: number) => {
      clearTimeout(timer);
      process.removeListener('exit', kill);
      if (timedOut) stderr += `\n[${cmd} killed after ${opts.timeoutMs} ms timeout]`;
      resolve({ code: timedOut ? 124 : code, stdout, stderr, output: stdout + stderr, timedOut, command: [cmd, ...args], ms: Date.now() - t0 });
    };
    child.on('error', (err) => {
      stderr += String(err);
      finish(127);
    });
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}

function runTool(cmd: string, args: string[], timeoutMs: number, cwd?: string): Promise<ToolResult> {
  return runBounded(cmd, args, { timeoutMs, cwd });
}

// ---------------------------------------------------------------- sipsak

export interface SipsakRegisterOptions {
  user: string;
  password: string;
  /**
   * SIP domain / realm (From, To, Request-URI host). Must resolve (an IP or an
   * /etc/hosts name): sipsak looks it up even when an outbound proxy is given
   * and exits 2 with "'x' is unresolvable" otherwise. sippRegister has no such limit.
   */
  domain: string;
  /** where the REGISTER is sent (outbound proxy) */
  proxyHost: string;
  proxyPort: number;
  /** port written into the Contact (nothing needs to listen there) */
  contactPort: number;
  /** host written into the Contact (default 127.0.0.1) */
  contactHost?: string;
  /** Expires value (default 60) */
  expires?: number;
  /** hard timeout (default 20000 ms) */
  timeoutMs?: number;
}

export interface SipsakResult extends ToolResult {
  /** exit 0 and sipsak reported success */
  ok: boolean;
}

/**
 * One REGISTER with digest auth, the way the lab's setup.sh does it:
 *   sipsak -i -U -C sip:USER@HOST:CPORT -s sip:USER@DOMAIN -p PROXY:PORT -a PW -x EXPIRES
 * sipsak exits 0 on a 200 for the authenticated REGISTER, non-zero otherwise
 * (observed: 2 when the credentials get a second 401, 1 for the lab's userban
 * "403 Try later" after 3 failures, 3 when nothing listens).
 */
export async function sipsakRegister(o: SipsakRegisterOptions): Promise<SipsakResult> {
  const args = [
    '-vv',
    '-i',
    '-U',
    '-C',
    `sip:${o.user}@${o.contactHost ?? '127.0.0.1'}:${o.contactPort}`,
    '-s',
    `sip:${o.user}@${o.domain}`,
    '-p',
    `${o.proxyHost}:${o.proxyPort}`,
    // sipsak 0.9.8.1 otherwise sends username="USER@" in Authorization, which only matches a
    // proxy that hashes the plaintext password itself (calculate_ha1), never the stored ha1.
    '--auth-username',
    o.user,
    '-a',
    o.password,
    '-x',
    String(o.expires ?? 60),
  ];
  const r = await runTool('sipsak', args, o.timeoutMs ?? 20000);
  return { ...r, ok: r.code === 0 && /completed successful/i.test(r.stdout) };
}

// ---------------------------------------------------------------- sipp

export interface SippRegisterOptions {
  users: { user: string; password: string }[];
  /** SIP domain / realm (default: proxyHost, like the lab scenario's [remote_ip]) */
  domain?: string;
  proxyHost: string;
  proxyPort: number;
  /** local IP sipp binds and writes into Via/Contact (default 127.0.0.1) */
  localIp?: string;
  /** local UDP port (default: a free one) */
  localPort?: number;
  /** calls (REGISTER transactions) per second (default 50) */
  rate?: number;
  /** hard timeout (default 30000 ms) */
  timeoutMs?: number;
  /** per-response receive timeout in ms (default 5000); a missing reply fails the call */
  recvTimeoutMs?: number;
  /** scenario to adapt (default: the lab's sipp/reg_auth.xml) */
  scenarioPath?: string;
}

export interface SippResult extends ToolResult {
  created: number;
  successful: number;
  failed: number;
}

const CSV_UNSAFE = /[;\]\s\[]/;

/**
 * REGISTER → 401 → REGISTER with credentials → 200, once per user, with sipp
 * and the lab scenario. As noted in the lab README, sipp 3.6.1 does not expand
 * [fieldN] inside [authentication ...], so the whole keyword
 * "[authentication username=U password=P]" is a CSV field (field1). The
 * scenario's [remote_ip] in the Request-URI/From/To is replaced by the domain
 * (field2) so the realm does not have to equal the proxy address.
 */
export async function sippRegister(o: SippRegisterOptions): Promise<SippResult> {
  if (o.users.length === 0) throw new Error('sippRegister: no users');
  for (const u of o.users) {
    if (CSV_UNSAFE.test(u.user) || CSV_UNSAFE.test(u.password) || !u.user || !u.password)
      throw new Error(`sippRegister: user/password must be non-empty without ';', brackets or spaces: ${u.user}`);
  }
  const domain = o.domain ?? o.proxyHost;
  if (CSV_UNSAFE.test(domain)) throw new Error(`sippRegister: bad domain ${domain}`);
  const localIp = o.localIp ?? '127.0.0.1';
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sipctl-sipp-'));
  try {
    let xml = await fsp.readFile(o.scenarioPath ?? path.join(LAB_DIR, 'sipp', 'reg_auth.xml'), 'utf8');
    const before = xml;
    xml = xml.replaceAll('sip:[remote_ip]', 'sip:[field2]').replaceAll('@[remote_ip]', '@[field2]');
    if (xml === before || !xml.includes('[field1]') || !xml.includes('auth="true"'))
      throw new Error('sippRegister: scenario does not look like the lab reg_auth.xml');
    const scenario = path.join(dir, 'reg_auth.xml');
    await fsp.writeFile(scenario, xml);
    const csv = path.join(dir, 'users.csv');
    await fsp.writeFile(
      csv,
      'SEQUENTIAL\n' +
        o.users.map((u) => `${u.user};[authentication username=${u.user} password=${u.password}];${domain}`).join('\n') +
        '\n',
    );
    const stat = path.join(dir, 'stat.csv');
    const timeoutMs = o.timeoutMs ?? 30000;
    const localPort = o.localPort ?? (await findFreePort(localIp, { tcp: false }));
    const args = [
      `${o.proxyHost}:${o.proxyPort}`,
      '-sf', scenario,
      '-inf', csv,
      '-i', localIp,
      '-p', String(localPort),
      '-m', String(o.users.length),
      '-r', String(o.rate ?? 50),
      '-l', String(Math.max(10, o.users.length)),
      '-recv_timeout', String(o.recvTimeoutMs ?? 5000),
      '-timeout', `${Math.max(1, Math.floor(timeoutMs / 1000) - 2)}s`,
      '-nostdin',
      '-trace_stat', '-stf', stat, '-fd', '1',
    ];
    const r = await runTool('sipp', args, timeoutMs, dir);
    const counts = readSippStats(stat);
    // exit code 0 = every call succeeded, 1 = at least one failed
    if (!counts) {
      const created = r.code === 0 ? o.users.length : 0;
      return { ...r, created, successful: created, failed: o.users.length - created };
    }
    return { ...r, ...counts };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

function readSippStats(file: string): { created: number; successful: number; failed: number } | undefined {
  let txt: string;
  try {
    txt = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const rows = txt.split('\n').filter((l) => l.trim()).map((l) => l.split(';'));
  if (rows.length < 2) return undefined;
  const head = rows[0];
  const last = rows[rows.length - 1];
  const get = (name: string) => {
    const i = head.indexOf(name);
    return i < 0 ? NaN : Number(last[i]);
  };
  const created = get('TotalCallCreated');
  const successful = get('SuccessfulCall(C)');
  const failed = get('FailedCall(C)');
  if ([created, successful, failed].some(Number.isNaN)) return undefined;
  return { created, successful, failed };
}
