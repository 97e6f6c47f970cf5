// Alerts under a real attack (issue 13): sipd as shipped plus a webhook with an HMAC secret;
// a sipp OPTIONS flood from 127.0.0.2 (thousands of requests, dropped after pike bans the
// source) must reach the webhook receiver this test runs as exactly ONE signed flood-ban alert,
// and a second flood from 127.0.0.4 as one more. `sipctl alerts recent` shows them, `sipctl
// alerts test` reaches the receiver too, and sipvicious' svmap (a scanner) is one alert however
// many requests it sends.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';
import { sipctlFor, sippFlood, sipvicious } from './attack-tools.js';
import { requireTools } from '../helpers/require.js';

const SECRET = 'flood-alert-test-secret-0123456789';

interface Delivery { headers: IncomingHttpHeaders; body: string; alert: { type: string; key: string; suppressed: number; details: Record<string, unknown> } }

function verify(d: Delivery): boolean {
  const ts = String(d.headers['x-sipd-timestamp']);
  const want = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${d.body}`).digest('hex')}`;
  return d.headers['x-sipd-signature'] === want;
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('alerts: one signed webhook alert per flood (sipp, sipvicious against sipd)', () => {
  before(() => requireTools('sipp', 'svmap'));
  let dir: string;
  let sipd: SipdProcess | undefined;
  let server: Server | undefined;
  const got: Delivery[] = [];
  let sipctl: ReturnType<typeof sipctlFor>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipd-attack-alerts-'));
    const dbUrl = await makeDb(dir);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        got.push({ headers: req.headers, body, alert: JSON.parse(body) as Delivery['alert'] });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const secretFile = join(dir, 'webhook.key');
    writeFileSync(secretFile, SECRET, { mode: 0o600 });
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    sipd = await startSipd({
      dbUrl,
      stateDir,
      config: { modules: { alerts: { webhook_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sipd`, webhook_secret_file: secretFile } } },
    });
    sipctl = sipctlFor(dbUrl, () => sipd);
  });
  after(async () => {
    if (sipd) await sipd.stop('SIGKILL');
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a flood of 2,000 OPTIONS is one flood-ban alert; a second flooder is a second one', async () => {
    const flood = await sippFlood({ sipPort: sipd!.sipPort, localIp: '127.0.0.2', rate: 500, calls: 2000, timeoutMs: 10_000 });
    assert.ok(flood.created >= 1900, `sipp sent only ${flood.created}\n${flood.output.slice(-800)}`);
    assert.equal(flood.successful, 16, 'pike answered its allowance, then banned');
    await until(() => got.some((d) => d.alert.type === 'flood-ban'), 'the flood-ban alert');
    // the banned source keeps hammering: every further request is a banned-drop, never an alert
    await sippFlood({ sipPort: sipd!.sipPort, localIp: '127.0.0.2', rate: 200, calls: 400, timeoutMs: 8_000 });
    const second = await sippFlood({ sipPort: sipd!.sipPort, localIp: '127.0.0.4', rate: 500, calls: 1000, timeoutMs: 8_000 });
    assert.equal(second.successful, 16);
    await until(() => got.filter((d) => d.alert.type === 'flood-ban').length >= 2, 'the second flood-ban alert');
    // a settle time for any wrongly duplicated delivery to arrive (sipd sends at once when due)
    const rpcDone = await sipd!.rpc<{ sinks: Array<{ pending: number }> }>('alerts.stats');
    await until(() => rpcDone.sinks.every((s) => s.pending === 0), 'the webhook queue to drain', 5_000);
    await new Promise((r) => setTimeout(r, 1000));

    const bans = got.filter((d) => d.alert.type === 'flood-ban');
    assert.deepEqual(bans.map((d) => d.alert.key).sort(), ['127.0.0.2', '127.0.0.4'], 'exactly one alert per flooding source');
    for (const d of bans) {
      assert.ok(verify(d), 'the HMAC signature verifies with the shared secret');
      assert.equal(d.headers['content-type'], 'application/json');
      assert.equal(d.alert.details.sourceIp, d.alert.key);
    }
    // and the signature is not a constant: a changed body does not verify
    assert.equal(verify({ ...bans[0]!, body: bans[0]!.body.replace('127.0.0', '127.0.1') }), false);

    const recent = await sipctl(['alerts', 'recent', '--json']);
    assert.equal(recent.code, 0, recent.stderr);
    const alerts = (JSON.parse(recent.stdout) as { nodes: Array<{ result: Array<{ type: string; key: string }> }> }).nodes[0]!.result;
    assert.deepEqual(alerts.filter((a) => a.type === 'flood-ban').map((a) => a.key), ['127.0.0.4', '127.0.0.2'], 'newest first');
    const stats = await sipd!.rpc<string[]>('stats.get_statistics', ['alerts:']);
    assert.ok(stats.includes('alerts:flood_ban = 2'), stats.join('\n'));
  });

  test('svmap (sipvicious) is one scanner-dropped alert however many requests it sends', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const before = got.length;
    const scan = () => sipvicious('svmap', ['-b', '127.0.0.6', '-P', '7070', '-p', String(sipd!.sipPort), '127.0.0.1'], { home, timeoutMs: 30_000 });
    const r = await scan();
    assert.equal(r.timedOut, false, r.output);
    await until(() => got.slice(before).some((d) => d.alert.type === 'scanner-dropped'), 'the scanner alert');
    assert.equal((await scan()).timedOut, false);
    await new Promise((r2) => setTimeout(r2, 1000));
    const scans = got.slice(before).filter((d) => d.alert.type === 'scanner-dropped');
    assert.equal(scans.length, 1, 'two scans from one source within the dedup window: one alert');
    assert.equal(scans[0]!.alert.key, '127.0.0.6');
    assert.ok(verify(scans[0]!));
  });

  test('sipctl alerts test reaches the receiver, signed', async () => {
    const r = await sipctl(['alerts', 'test', 'from the attack test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /test alert [0-9a-f-]{36} sent to webhook http:\/\/127\.0\.0\.1:\d+\/sipd/);
    await until(() => got.some((d) => d.alert.type === 'test'), 'the test alert');
    const t = got.find((d) => d.alert.type === 'test')!;
    assert.ok(verify(t));
    assert.equal(t.alert.details.detail, 'from the attack test');
  });
});
