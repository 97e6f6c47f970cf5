// The exposition writer and the prometheus module's access rules, without a process: names as
// xhttp_prom builds them, label values escaped, the token file refused when others can read it,
// a scrape without the token refused, other paths left to the RPC listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveParams } from '../../../src/daemon/kernel/module.js';
import { kamailioName, render } from '../../../src/daemon/modules/prometheus/exposition.js';
import { createPrometheusModule } from '../../../src/daemon/modules/prometheus/prometheus-module.js';
import { createStatsModule } from '../../../src/daemon/modules/stats/stats-module.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

test("kamailio_<group>_<name>, other characters as '_'", () => {
  assert.equal(kamailioName('core', 'rcv_requests'), 'kamailio_core_rcv_requests');
  assert.equal(kamailioName('usrloc', 'location-contacts'), 'kamailio_usrloc_location_contacts');
  assert.equal(kamailioName('sl', '200_replies'), 'kamailio_sl_200_replies');
});

test('label values escaped; bad names refused; a name twice written once', () => {
  const text = render([
    { name: 'x_total', type: 'counter', help: 'a\\b\nc', samples: [{ labels: { sink: 'webhook "x"\\y\nz' }, value: 1 }] },
    { name: 'x_total', type: 'counter', help: 'again', samples: [{ value: 2 }] },
  ]);
  assert.equal(text, '# HELP x_total a\\\\b\\nc\n# TYPE x_total counter\nx_total{sink="webhook \\"x\\"\\\\y\\nz"} 1\n');
  assert.throws(() => render([{ name: 'bad-name', type: 'gauge', help: '', samples: [] }]), /bad metric name/);
});

test('token file: refused when group/others can read it; scrapes need the token; other paths are not ours', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipd-prom-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, 'a-scrape-token-of-enough-length\n');
    chmodSync(file, 0o640);
    const stats = createStatsModule();
    const mk = (params: Record<string, unknown>) => {
      const m = createPrometheusModule();
      const ctx = { params: resolveParams('prometheus', m.params, params), log: silent, now: Date.now, api: <T>(n: string) => (n === 'stats' ? (stats.api as T) : undefined) };
      return { m, ctx };
    };
    const open = mk({ token_file: file });
    assert.throws(() => open.m.init(open.ctx as never), /readable by group or others/);
    chmodSync(file, 0o600);
    const { m, ctx } = mk({ token_file: file });
    m.init(ctx as never);
    const extras = { securityEvents: new Map([['flood-ban', 2]]), uptimeSec: 5 };
    assert.equal(m.api!.handle('/RPC', undefined, extras), undefined);
    assert.equal(m.api!.handle('/metrics', undefined, extras)?.status, 401);
    assert.equal(m.api!.handle('/metrics', 'Bearer wrong-token-of-the-same-len', extras)?.status, 401);
    const ok = m.api!.handle('/metrics', 'Bearer a-scrape-token-of-enough-length', extras)!;
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^kamailio_core_rcv_requests 0$/m);
    assert.match(ok.body, /^sipd_security_events_total\{event="flood-ban"\} 2$/m);
    m.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
