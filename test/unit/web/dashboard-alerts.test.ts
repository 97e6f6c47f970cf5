// The dashboard's alerts (GET /api/dashboard, SSE): a node without the alerts module (Kamailio:
// 500 "Method Not Found"; sipd: -32601) has no alerts, while any other failure of alerts.recent
// (a timeout, the method's own error) is shown as an error naming the node — it used to read as
// "no alerts module" too. Four fake proxies over HTTP, each answering alerts.recent differently.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DashboardFeed } from '../../../src/core/web/dashboard.js';
import { Session } from '../../../src/core/session.js';
import { startRawHttpServer, type RawHttpServer } from '../rpc/servers.js';

const ALERT = { time: '2026-12-07T14:00:00.000Z', type: 'flood', key: '192.0.2.7', severity: 'warning', summary: 'flood from 192.0.2.7', suppressed: 0 };
type Mode = 'kamailio-missing' | 'sipd-missing' | 'hang' | 'error' | 'ok';

const http = (body: object) => {
  const s = JSON.stringify(body);
  return Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(s)}\r\n\r\n${s}`);
};
const proxy = (mode: Mode) => (req: { json: any }) => {
  const { method, id } = req.json;
  if (method === 'core.uptime') return http({ jsonrpc: '2.0', result: { uptime: 60 }, id });
  if (method === 'core.version') return http({ jsonrpc: '2.0', result: 'fake 1.0', id });
  if (method === 'alerts.recent') {
    if (mode === 'hang') return 'hang' as const;
    if (mode === 'error') return http({ jsonrpc: '2.0', error: { code: -32000, message: 'alerts store broken' }, id });
    if (mode === 'ok') return http({ jsonrpc: '2.0', result: { alerts: [ALERT] }, id });
    if (mode === 'sipd-missing') return http({ jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id });
  }
  return http({ jsonrpc: '2.0', error: { code: 500, message: 'Method Not Found' }, id });
};

const modes: Mode[] = ['kamailio-missing', 'sipd-missing', 'hang', 'error', 'ok'];
const servers: RawHttpServer[] = [];
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sipctl-dash-alerts-'));
  for (const m of modes) servers.push(await startRawHttpServer(proxy(m)));
});
after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

test('alerts.recent: "method not found" is no alerts module; a timeout or an error is shown per node', async () => {
  const nodes = Object.fromEntries(modes.map((m, i) => [m, servers[i]!.url]));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ nodes }), { mode: 0o600 });
  const session = new Session({ flags: { config, timeoutMs: 1000 }, node: ['all'], env: { HOME: dir, XDG_CONFIG_HOME: dir } });
  const logged: string[] = [];
  try {
    const doc = await new DashboardFeed(session, 60_000, (l) => logged.push(l)).sample();
    assert.deepEqual(doc.nodes.map((n) => [n.node, n.ok]), modes.map((m) => [m, true]));
    assert.deepEqual(doc.alerts, [{ ...ALERT, node: 'ok' }]);
    assert.deepEqual(doc.alertErrors.map((e) => e.node), ['hang', 'error']);
    assert.match(doc.alertErrors[0]!.error, /no reply from .* within 1000 ms/);
    assert.match(doc.alertErrors[1]!.error, /alerts store broken/);
    assert.deepEqual(logged, []);
  } finally {
    await session.close();
  }
});
