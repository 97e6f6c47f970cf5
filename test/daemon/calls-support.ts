/**
 * sipp for the call tests: the scenarios in test/fixtures/sipp/ with their {{placeholders}}
 * filled, a UAC run to completion, a UAS run in the background, each with a hard timeout and its
 * whole process group killed at the end (also when the test process dies).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './sipd-process.js';

export const SIPP_DIR = join(REPO, 'test', 'fixtures', 'sipp');

const work = mkdtempSync(join(tmpdir(), 'sipd-calls-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
let n = 0;

/** A scenario file with every {{NAME}} replaced; unknown placeholders are an error. */
export function scenario(name: string, vars: Record<string, string | number> = {}): string {
  let xml = readFileSync(join(SIPP_DIR, name), 'utf8');
  const all: Record<string, string | number> = { UA: 'sipp-test', HOLD: 500, RING: 200, EXPIRES: 300, ...vars };
  xml = xml.replace(/\{\{([A-Z]+)\}\}/g, (m, k: string) => {
    if (!(k in all)) throw new Error(`${name}: no value for {{${k}}}`);
    return String(all[k]);
  });
  const file = join(work, `${++n}-${name}`);
  writeFileSync(file, xml);
  return file;
}

export interface SippRun {
  code: number;
  output: string;
  timedOut: boolean;
  /** successful / failed calls from sipp's statistics file (undefined if it wrote none) */
  successful?: number;
  failed?: number;
  /** why calls failed, by sipp's statistics column (e.g. { CallTimeout: 3 }); only the non-zero ones */
  failures?: Record<string, number>;
  /** messages sipp logged (-trace_msg), when asked for */
  messages?: string;
}

export interface SippOptions {
  scenario: string;
  /** where requests go: ip:port (UAC); ignored for a UAS */
  remote?: string;
  localIp?: string;
  localPort: number;
  service?: string;
  user?: string;
  password?: string;
  calls?: number;
  rate?: number;
  /** ms */
  timeoutMs?: number;
  traceMessages?: boolean;
  extra?: string[];
}

const running = new Set<ChildProcess>();
const killGroup = (c: ChildProcess) => {
  try {
    if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
};
process.once('exit', () => {
  for (const c of running) killGroup(c);
});

function stats(file: string): { successful?: number; failed?: number; failures?: Record<string, number> } {
  try {
    const rows = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => l.split(';'));
    const head = rows[0];
    const last = rows[rows.length - 1];
    const get = (k: string) => Number(last[head.indexOf(k)]);
    // sipp's reasons for failed calls (FailedCallRejected(C), FailedMaxUDPRetrans(C), …), those it counted
    const failures = Object.fromEntries(head.flatMap((k, i) => (/^Failed.+\(C\)$/.test(k) && k !== 'FailedCall(C)' && Number(last[i]) > 0 ? [[k.slice(6, -3), Number(last[i])]] : [])));
    return { successful: get('SuccessfulCall(C)'), failed: get('FailedCall(C)'), failures };
  } catch {
    return {};
  }
}

/** One sipp call ran to its end: no timeout, exit 0, one successful call; the tail of sipp's output otherwise. */
export function ok(r: SippRun, what: string): void {
  assert.equal(r.timedOut, false, `${what}: sipp timed out\n${r.output.slice(-1500)}`);
  assert.equal(r.code, 0, `${what}: sipp exit ${r.code}\n${r.output.slice(-2500)}`);
  assert.equal(r.successful, 1, `${what}: ${r.output.slice(-1500)}`);
}

/** Start sipp; `done` resolves when it exits (or is killed at the timeout). */
export function sipp(o: SippOptions): { done: Promise<SippRun>; child: ChildProcess; stop(): void } {
  const dir = mkdtempSync(join(work, 'run-'));
  const stat = join(dir, 'stat.csv');
  const msgs = join(dir, 'messages.log');
  const timeoutMs = o.timeoutMs ?? 20_000;
  const args = [
    ...(o.remote !== undefined ? [o.remote] : []),
    '-sf', o.scenario,
    '-i', o.localIp ?? '127.0.0.1',
    '-p', String(o.localPort),
    '-m', String(o.calls ?? 1),
    '-r', String(o.rate ?? 10),
    '-nostdin',
    '-trace_stat', '-stf', stat, '-fd', '1',
    '-timeout', `${Math.max(1, Math.floor(timeoutMs / 1000) - 1)}s`,
    '-recv_timeout', '8000',
    ...(o.service !== undefined ? ['-s', o.service] : []),
    ...(o.user !== undefined ? ['-au', o.user, '-ap', o.password ?? ''] : []),
    // sipp's digest uri is sip:remote_ip:remote_port unless told: ours is the Request-URI
    ...(o.user !== undefined && o.service !== undefined && o.remote !== undefined ? ['-auth_uri', `${o.service}@${o.remote}`] : []),
    ...(o.traceMessages ? ['-trace_msg', '-message_file', msgs] : []),
    ...(o.extra ?? []),
  ];
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d) => (out += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  const done = new Promise<SippRun>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      let messages: string | undefined;
      if (o.traceMessages) {
        try {
          messages = readFileSync(msgs, 'utf8');
        } catch {
          messages = '';
        }
      }
      resolve({ code: code ?? (signal ? 128 : 1), output: out, timedOut, ...stats(stat), ...(messages !== undefined ? { messages } : {}) });
    });
  });
  return { done, child, stop: () => killGroup(child) };
}

/** Wait until a UDP port has a listener (sipp bound it), up to `ms`. */
export async function settle(ms = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** REGISTER `user` with contact 127.0.0.x:port, sent from that address (as the UA itself would). */
export async function register(o: { proxyPort: number; user: string; password: string; localIp?: string; localPort: number; expires?: number }): Promise<SippRun> {
  return sipp({
    scenario: scenario('register.xml', { USER: o.user, EXPIRES: o.expires ?? 300 }),
    remote: `127.0.0.1:${o.proxyPort}`,
    localIp: o.localIp ?? '127.0.0.1',
    localPort: o.localPort,
    user: o.user,
    password: o.password,
    timeoutMs: 10_000,
  }).done;
}
