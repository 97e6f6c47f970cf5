/**
 * The alerts module on its own: dedup and rate limit per key, a real HTTP receiver that checks
 * the HMAC signature and sees retries after failures, a real exec hook reading stdin, RFC 5424
 * datagrams on a real UDP socket, and the secret file refused when others can read it.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AlertEngine, type Alert } from '../../../src/daemon/modules/alerts/alerts.js';
import { createAlertsModule, readSecretFile } from '../../../src/daemon/modules/alerts/alerts-module.js';
import { formatRfc5424 } from '../../../src/daemon/modules/alerts/sinks.js';
import { resolveParams } from '../../../src/daemon/kernel/module.js';

type CreateDgram = (type: 'unix_dgram', listener?: (b: Buffer) => void) => { bind(p: string): void; close(): void };

const dir = mkdtempSync(join(tmpdir(), 'sipd-alerts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function engine(now: { t: number }, opts: { dedupMs?: number; maxPerMinute?: number } = {}) {
  const out: Alert[] = [];
  const e = new AlertEngine({ dedupMs: opts.dedupMs ?? 60_000, maxPerMinute: opts.maxPerMinute ?? 100, recentSize: 5, host: 'h', now: () => now.t, newId: () => `id${out.length}` }, (a) => out.push(a));
  return { e, out };
}

interface Received { headers: IncomingMessage['headers']; body: string }

async function receiver(status: (n: number) => number): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = status(got.length);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function moduleCtx(params: Record<string, unknown>) {
  const m = createAlertsModule();
  const logs: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const log = { debug() {}, info() {}, warn: (msg: string, fields?: Record<string, unknown>) => logs.push({ msg, fields }), error: (msg: string, fields?: Record<string, unknown>) => logs.push({ msg, fields }) };
  const ctx = { params: resolveParams('alerts', m.params, params), log, now: Date.now, api: () => undefined };
  return { m, ctx, logs };
}

describe('alert engine', () => {
  it('one alert per (type, key) within the dedup window; the held-back count travels with the next one', () => {
    const now = { t: 1_000_000 };
    const { e, out } = engine(now);
    for (let i = 0; i < 500; i++) e.emit('flood-ban', '127.0.0.2', { detail: 'flood' });
    e.emit('flood-ban', '127.0.0.3');
    assert.equal(out.length, 2);
    assert.deepEqual(out.map((a) => a.key), ['127.0.0.2', '127.0.0.3']);
    now.t += 61_000;
    e.emit('flood-ban', '127.0.0.2');
    assert.equal(out.length, 3);
    assert.equal(out[2].suppressed, 499);
    assert.equal(e.counters.deduplicated, 499);
  });

  it('at most maxPerMinute alerts over every key; the ring keeps the last recentSize', () => {
    const now = { t: 0 };
    const { e, out } = engine(now, { maxPerMinute: 3 });
    for (let i = 0; i < 10; i++) e.emit('auth-lockout', `10.0.0.${i}|alice`);
    assert.equal(out.length, 3);
    assert.equal(e.counters.rateLimited, 7);
    now.t = 60_000;
    for (let i = 0; i < 10; i++) e.emit('scanner-dropped', `10.0.1.${i}`);
    assert.equal(e.recent(100).length, 5);
    assert.equal(e.recent(1)[0].key, '10.0.1.2');
  });

  it('attacker-chosen text is cut short and stripped of control characters', () => {
    const { e, out } = engine({ t: 0 });
    e.emit('scanner-dropped', 'x\r\n'.repeat(300), { detail: 'a\nb'.repeat(500), 'bad key': 1, n: 3 });
    assert.ok(out[0].key.length <= 200 && !/[\r\n]/.test(out[0].key));
    assert.ok(String(out[0].details.detail).length <= 257 && !String(out[0].details.detail).includes('\n'));
    assert.equal(out[0].details['bad key'], undefined);
    assert.equal(out[0].details.n, 3);
    e.emit('Bad Type!', 'k');
    assert.equal(out[1].type, 'invalid');
  });
});

describe('alert sinks', () => {
  it('webhook: signed POSTs verified with the secret; a failing receiver gets retries with back-off', async () => {
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, 'a-webhook-secret-of-enough-length\n', { mode: 0o600 });
    const rx = await receiver((n) => (n <= 2 ? 503 : 200));
    const { m, ctx } = moduleCtx({ webhook_url: rx.url, webhook_secret_file: secretFile, webhook_backoff_ms: 20 });
    try {
      await m.init(ctx);
      m.api!.emit('flood-ban', '127.0.0.9', { detail: 'more than 16 requests' });
      m.api!.emit('flood-ban', '127.0.0.9', { detail: 'again' }); // deduplicated
      await until(() => rx.got.length >= 3, 'three POSTs (two refused, one accepted)');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(rx.got.length, 3, 'the same alert, retried until accepted, then nothing more');
      for (const g of rx.got) {
        const ts = String(g.headers['x-sipd-timestamp']);
        const want = `sha256=${createHmac('sha256', 'a-webhook-secret-of-enough-length').update(`${ts}.${g.body}`).digest('hex')}`;
        assert.equal(g.headers['x-sipd-signature'], want);
        const a = JSON.parse(g.body) as Alert;
        assert.equal(a.type, 'flood-ban');
        assert.equal(a.key, '127.0.0.9');
        assert.equal(g.headers['x-sipd-event'], 'flood-ban');
      }
      const s = (m.api as unknown as { stats(): { sinks: Array<{ sent: number; retried: number }> } }).stats();
      assert.equal(s.sinks[0].sent, 1);
      assert.equal(s.sinks[0].retried, 2);
    } finally {
      await m.destroy();
      rx.server.close();
    }
  });

  it('exec hook: the alert arrives as JSON on stdin, nothing in argv', async () => {
    const outFile = join(dir, 'exec-out');
    const hook = join(dir, 'hook.sh');
    writeFileSync(hook, `#!/bin/sh\necho "args:$#" > ${outFile}\ncat >> ${outFile}\n`, { mode: 0o700 });
    const { m, ctx } = moduleCtx({ exec_command: hook });
    try {
      await m.init(ctx);
      m.api!.emit('cost-limit', 'alice|cost/day', { used: 1.0, limit: 1.0 });
      await until(() => {
        try {
          return readFileSync(outFile, 'utf8').includes('}');
        } catch {
          return false;
        }
      }, 'the exec hook output');
      const [first, json] = readFileSync(outFile, 'utf8').split('\n');
      assert.equal(first, 'args:0');
      const a = JSON.parse(json) as Alert;
      assert.equal(a.type, 'cost-limit');
      assert.equal(a.severity, 'critical');
      assert.equal(a.details.used, 1);
    } finally {
      await m.destroy();
    }
  });

  it('syslog over UDP: one RFC 5424 message per alert', async () => {
    const sock = createSocket('udp4');
    const got: string[] = [];
    sock.on('message', (b) => got.push(b.toString('utf8')));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const { m, ctx } = moduleCtx({ syslog: 'udp', syslog_port: (sock.address() as AddressInfo).port, syslog_facility: 'local3' });
    try {
      await m.init(ctx);
      m.api!.emit('auth-lockout', '127.0.0.5|bob"]', { detail: 'x' });
      await until(() => got.length === 1, 'a syslog datagram');
      // <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG, PRI = 19*8 + 4 (warning)
      assert.match(got[0], /^<156>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ sipd \d+ auth-lockout \[sipd@32473 type="auth-lockout" key="127\.0\.0\.5\|bob\\"\\]" id="[0-9a-f-]{36}" suppressed="0"\] \ufeffauth-lockout /);
    } finally {
      await m.destroy();
      sock.close();
    }
  });

  it('syslog to a local datagram socket (as /dev/log): the same RFC 5424 message', async () => {
    const mod = (await import('unix-dgram')) as unknown as { createSocket?: CreateDgram; default?: { createSocket: CreateDgram } };
    const create = (mod.createSocket ?? mod.default?.createSocket)!;
    const path = join(dir, 'log.sock');
    const got: string[] = [];
    const sock = create('unix_dgram', (b: Buffer) => got.push(b.toString('utf8')));
    sock.bind(path);
    const { m, ctx } = moduleCtx({ syslog: 'local', syslog_socket: path, syslog_facility: 'auth' });
    try {
      await m.init(ctx);
      m.api!.emit('spray-lockout', '127.0.0.8', { detail: 'many users' });
      await until(() => got.length === 1, 'a datagram on the local socket');
      // auth = 4, critical = 2: PRI 34
      assert.match(got[0]!, /^<34>1 \S+ \S+ sipd \d+ spray-lockout \[sipd@32473 type="spray-lockout" key="127\.0\.0\.8" /);
    } finally {
      await m.destroy();
      sock.close();
    }
  });

  it('refuses a secret file others can read, and a relative exec path', async () => {
    const f = join(dir, 'open-secret');
    writeFileSync(f, 'a-webhook-secret-of-enough-length');
    chmodSync(f, 0o644);
    assert.throws(() => readSecretFile(f), /readable by group or others/);
    const { m, ctx } = moduleCtx({ exec_command: 'hook.sh' });
    await assert.rejects(Promise.resolve(m.init(ctx)), /absolute path/);
  });

  it('formats severity and facility into PRI', () => {
    const a: Alert = { version: 1, id: 'i', type: 'test', key: 'k', severity: 'info', time: '2026-01-01T00:00:00.000Z', host: 'h', summary: 's', details: {}, suppressed: 0 };
    assert.ok(formatRfc5424(a, { facility: 16, pid: 1 }).startsWith('<134>1 2026-01-01T00:00:00.000Z h sipd 1 test '));
  });
});
