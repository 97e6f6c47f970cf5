/**
 * Where alerts go: webhooks (HTTP POST, HMAC-SHA256 signed, retried with back-off), an exec hook
 * (the alert as JSON on stdin) and syslog (RFC 5424 over UDP or the local /dev/log socket).
 *
 * Every sink takes alerts through a bounded queue and works on its own timers: a slow or dead
 * receiver never blocks SIP handling, and never grows memory without bound (when a queue is full
 * the oldest alert is dropped and counted).
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Alert, Severity } from './alerts.js';

export interface SinkCounters {
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
}

export interface Sink {
  readonly name: string;
  readonly counters: SinkCounters;
  push(a: Alert, body: string): void;
  /** alerts waiting (queued or being sent) */
  pending(): number;
  /** Stop timers; give what is in flight up to `graceMs` to finish. */
  close(graceMs: number): Promise<void>;
}

export interface SinkLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

const newCounters = (): SinkCounters => ({ sent: 0, failed: 0, retried: 0, dropped: 0 });

/**
 * The signature a receiver checks: hex HMAC-SHA256 over `<timestamp>.<body>` with the shared
 * secret, sent as `X-Sipd-Signature: sha256=<hex>` beside `X-Sipd-Timestamp: <unix seconds>`.
 * Signing the timestamp lets a receiver refuse replays of an old alert.
 */
export function signature(secret: Buffer, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

interface Job {
  alert: Alert;
  body: string;
  attempt: number;
  due: number;
}

export interface WebhookOptions {
  url: string;
  secret?: Buffer;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  queueSize: number;
  userAgent: string;
  now: () => number;
  log: SinkLog;
}

/** Back-off before attempt n (1-based retries): base · 2^(n-1), capped at 5 minutes. */
export function backoffMs(base: number, retry: number): number {
  return Math.min(300_000, base * 2 ** Math.max(0, retry - 1));
}

export function createWebhookSink(o: WebhookOptions): Sink {
  const queue: Job[] = [];
  const counters = newCounters();
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const display = o.url.replace(/\/\/[^/@]*@/, '//****@');

  const schedule = () => {
    if (closed || inFlight !== undefined || queue.length === 0) return;
    const next = Math.min(...queue.map((j) => j.due));
    const wait = Math.max(0, next - o.now());
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, wait);
    timer.unref();
  };

  const run = () => {
    timer = undefined;
    if (closed || inFlight !== undefined) return;
    const now = o.now();
    const i = queue.findIndex((j) => j.due <= now);
    if (i < 0) return schedule();
    const job = queue.splice(i, 1)[0];
    inFlight = send(job).finally(() => {
      inFlight = undefined;
      schedule();
    });
  };

  async function send(job: Job): Promise<void> {
    const ts = String(Math.floor(o.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': o.userAgent,
      'x-sipd-event': job.alert.type,
      'x-sipd-delivery': job.alert.id,
      'x-sipd-timestamp': ts,
    };
    if (o.secret !== undefined) headers['x-sipd-signature'] = signature(o.secret, ts, job.body);
    let why: string;
    try {
      const res = await fetch(o.url, { method: 'POST', headers, body: job.body, signal: AbortSignal.timeout(o.timeoutMs), redirect: 'error' });
      await res.arrayBuffer().catch(() => undefined); // free the connection
      if (res.ok) {
        counters.sent++;
        return;
      }
      why = `HTTP ${res.status}`;
    } catch (e) {
      why = (e as Error).name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : ((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message);
    }
    if (job.attempt < o.retries && !closed) {
      job.attempt++;
      job.due = o.now() + backoffMs(o.backoffMs, job.attempt);
      counters.retried++;
      o.log.debug('alert webhook failed; will retry', { url: display, why, attempt: job.attempt, alert: job.alert.id });
      enqueue(job);
    } else {
      counters.failed++;
      o.log.warn('alert webhook failed; alert given up', { url: display, why, attempts: job.attempt + 1, alert: job.alert.id, type: job.alert.type });
    }
  }

  function enqueue(job: Job): void {
    queue.push(job);
    while (queue.length > o.queueSize) {
      queue.shift();
      counters.dropped++;
    }
  }

  return {
    name: `webhook ${display}`,
    counters,
    push(alert, body) {
      if (closed) return;
      enqueue({ alert, body, attempt: 0, due: o.now() });
      schedule();
    },
    pending: () => queue.length + (inFlight ? 1 : 0),
    async close(graceMs) {
      closed = true;
      if (timer) clearTimeout(timer);
      if (inFlight) await Promise.race([inFlight, new Promise((r) => setTimeout(r, graceMs).unref())]);
    },
  };
}

export interface ExecOptions {
  command: string;
  timeoutMs: number;
  queueSize: number;
  log: SinkLog;
}

/**
 * Runs `command` (no shell, no arguments) once per alert with the alert as one JSON line on
 * stdin: nothing an attacker chose reaches its argv, and no secret does either. One hook runs at
 * a time; the others wait in a bounded queue.
 */
export function createExecSink(o: ExecOptions): Sink {
  const queue: string[] = [];
  const counters = newCounters();
  let running: Promise<void> | undefined;
  let closed = false;

  const next = () => {
    if (closed || running !== undefined) return;
    const body = queue.shift();
    if (body === undefined) return;
    running = runOne(body).finally(() => {
      running = undefined;
      next();
    });
  };

  function runOne(body: string): Promise<void> {
    return new Promise((resolve) => {
      let stderr = '';
      const child = spawn(o.command, [], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: '/usr/local/bin:/usr/bin:/bin' }, timeout: o.timeoutMs, killSignal: 'SIGKILL' });
      child.stderr.on('data', (b: Buffer) => {
        if (stderr.length < 500) stderr += b.toString('utf8');
      });
      child.stdin.on('error', () => undefined); // a hook that does not read its stdin
      child.on('error', (e) => {
        counters.failed++;
        o.log.warn('alert exec hook could not run', { command: o.command, error: e.message });
        resolve();
      });
      child.on('close', (code, signal) => {
        if (code === 0) counters.sent++;
        else {
          counters.failed++;
          o.log.warn('alert exec hook failed', { command: o.command, ...(code !== null ? { exitCode: code } : { signal }), stderr: stderr.trim().slice(0, 200) });
        }
        resolve();
      });
      child.stdin.end(body + '\n');
    });
  }

  return {
    name: `exec ${o.command}`,
    counters,
    push(_a, body) {
      if (closed) return;
      queue.push(body);
      while (queue.length > o.queueSize) {
        queue.shift();
        counters.dropped++;
      }
      next();
    },
    pending: () => queue.length + (running ? 1 : 0),
    async close(graceMs) {
      closed = true;
      if (running) await Promise.race([running, new Promise((r) => setTimeout(r, graceMs).unref())]);
    },
  };
}

// ---- syslog (RFC 5424) ----

export const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
const SEVERITY_CODE: Record<Severity, number> = { critical: 2, warning: 4, notice: 5, info: 6 };

/** PRINTUSASCII without space, '=', ']' and '"' (RFC 5424 §6 SD-NAME), at most `max`. */
function token(s: string, max: number): string {
  const t = s.replace(/[^\x21-\x7e]|[=\]"]/g, '_').slice(0, max);
  return t.length > 0 ? t : '-';
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): '"', '\' and ']' get a backslash. */
function paramValue(s: string): string {
  return s.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/**
 * One RFC 5424 message:
 *   <PRI>1 TIMESTAMP HOSTNAME sipd PROCID MSGID [sipd@32473 type="…" key="…" id="…"] BOM MSG
 * 32473 is the private enterprise number RFC 5612 reserves for documentation examples.
 */
export function formatRfc5424(a: Alert, o: { facility: number; pid: number; appName?: string }): string {
  const pri = o.facility * 8 + SEVERITY_CODE[a.severity];
  const sd = `[sipd@32473 type="${paramValue(a.type)}" key="${paramValue(a.key)}" id="${paramValue(a.id)}" suppressed="${a.suppressed}"]`;
  const msg = `${a.summary} ${JSON.stringify(a.details)}`;
  return `<${pri}>1 ${a.time} ${token(a.host, 255)} ${token(o.appName ?? 'sipd', 48)} ${o.pid} ${token(a.type, 32)} ${sd} \ufeff${msg}`;
}

export interface SyslogOptions {
  mode: 'udp' | 'local';
  host: string;
  port: number;
  socketPath: string;
  facility: number;
  queueSize: number;
  log: SinkLog;
}

type UnixDgram = { send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void; close(): void; on(ev: 'error', l: (e: Error) => void): unknown };

/**
 * Syslog over UDP (node:dgram) or the local unix datagram socket (/dev/log: journald's or
 * rsyslog's), the latter through the optional unix-dgram addon sipctl already uses for
 * Kamailio's datagram RPC socket. Datagrams are fire-and-forget, as syslog is.
 */
export async function createSyslogSink(o: SyslogOptions): Promise<Sink> {
  const counters = newCounters();
  let udp: Socket | undefined;
  let unix: UnixDgram | undefined;
  if (o.mode === 'udp') {
    udp = createSocket(isIP(o.host) === 6 ? 'udp6' : 'udp4');
    udp.on('error', (e) => o.log.warn('syslog socket error', { error: e.message }));
    udp.unref();
  } else {
    const m = (await import('unix-dgram')) as unknown as { createSocket?: (t: 'unix_dgram') => UnixDgram; default?: { createSocket: (t: 'unix_dgram') => UnixDgram } };
    const create = m.createSocket ?? m.default?.createSocket;
    if (typeof create !== 'function') throw new Error('unix-dgram has no createSocket()');
    unix = create('unix_dgram');
    unix.on('error', (e) => o.log.warn('syslog socket error', { error: e.message }));
  }
  let warned = false;
  const failed = (e: Error | null | undefined) => {
    if (!e) {
      counters.sent++;
      return;
    }
    counters.failed++;
    if (!warned) o.log.warn('syslog alert not sent', { to: o.mode === 'udp' ? `${o.host}:${o.port}` : o.socketPath, error: e.message });
    warned = true;
  };
  return {
    name: o.mode === 'udp' ? `syslog udp:${o.host}:${o.port}` : `syslog ${o.socketPath}`,
    counters,
    push(a) {
      const buf = Buffer.from(formatRfc5424(a, { facility: o.facility, pid: process.pid }), 'utf8');
      if (udp) udp.send(buf, o.port, o.host, (e) => failed(e));
      else unix?.send(buf, 0, buf.length, o.socketPath, (e) => failed(e));
    },
    pending: () => 0,
    async close() {
      udp?.close();
      unix?.close();
    },
  };
}
