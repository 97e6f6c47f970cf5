// GET /metrics on sipd's RPC HTTP listener, checked by Prometheus' own parser (promtool check
// metrics, Debian's prometheus package): Kamailio's xhttp_prom names for sipd's statistics and
// the typed sipd_* metrics, a bearer token when one is configured; and the JSON-RPC statistics
// methods monitoring tools call (stats.fetch, sl.stats, tm.stats, dlg.stats_active) with the
// keys Kamailio 5.6 answers (test/fixtures/kamailio/recorded/stats_methods.txt).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDb, options, startSipd, udpExchange, type SipdProcess } from './sipd-process.js';
import { requireTools } from '../helpers/require.js';
import { LAB_RECORDED } from '../helpers/kamailio.js';

const TOKEN = 'metrics-scrape-token-0123456789abcdef';

function recorded(call: string): Record<string, unknown> {
  const part = readFileSync(join(LAB_RECORDED, 'stats_methods.txt'), 'utf8').split(/^### /m).find((p) => p.startsWith(`${call}\n`));
  assert.ok(part, call);
  return JSON.parse(part.slice(call.length + 1)) as Record<string, unknown>;
}

describe('sipd /metrics and statistics methods', () => {
  before(() => requireTools('promtool'));
  let dir: string;
  let sipd: SipdProcess | undefined;
  let metricsUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipd-metrics-'));
    const dbUrl = await makeDb(dir);
    const tokenFile = join(dir, 'metrics.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const stateDir = join(dir, 'state');
    mkdirSync(stateDir, { mode: 0o700 });
    sipd = await startSipd({ dbUrl, stateDir, config: { modules: { prometheus: { token_file: tokenFile } } } });
    metricsUrl = sipd.rpcUrl.replace(/\/RPC$/, '/metrics');
    // some traffic: OPTIONS answered 200 by sipd
    for (let i = 0; i < 3; i++) assert.ok(await udpExchange(sipd.sipPort, options(sipd.sipPort)), 'OPTIONS answered');
  });
  after(async () => {
    if (sipd) await sipd.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('without the token: 401; with it: the exposition format, valid for promtool', async () => {
    const none = await fetch(metricsUrl);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await fetch(metricsUrl, { headers: { Authorization: `Bearer ${TOKEN.replace(/.$/, 'x')}` } });
    assert.equal(wrong.status, 401);
    const res = await fetch(metricsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000 });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
    const value = (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return m === null ? undefined : Number(m[1]);
    };
    assert.ok((value('kamailio_core_rcv_requests') ?? 0) >= 3, 'the OPTIONS were counted');
    assert.ok((value('kamailio_sl_200_replies') ?? 0) >= 3);
    assert.equal(value('kamailio_usrloc_registered_users'), 0);
    assert.equal(value('kamailio_dialog_active_dialogs'), 0);
    assert.equal(value('sipd_bans_total'), 0);
    assert.match(text, /^# TYPE kamailio_core_rcv_requests gauge$/m, 'typed as xhttp_prom types statistics');
    assert.match(text, /^# TYPE sipd_bans_total counter$/m);
    assert.match(text, /^sipd_auth_lockouts_total\{kind="spray"\} 0$/m);
    assert.match(text, /^sipd_event_loop_lag_seconds\{stat="p99"\} [0-9.e-]+$/m);
    // the RPC is unchanged on the same listener, and POST /metrics is not a way around the token
    const post = await fetch(metricsUrl, { method: 'POST', body: '{}' });
    assert.equal(post.status, 404);
  });

  test('an alert shows in sipd_alerts_total by type', async () => {
    await sipd!.rpc('alerts.test', ['metrics']);
    const text = await (await fetch(metricsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
    assert.match(text, /^sipd_alerts_total\{type="test"\} 1$/m);
  });

  test("stats.fetch, sl.stats, tm.stats, dlg.stats_active: Kamailio's shapes", async () => {
    const fetched = await sipd!.rpc<Record<string, unknown>>('stats.fetch', ['sl:', 'core:rcv_requests']);
    for (const [k, v] of Object.entries(fetched)) {
      assert.match(k, /^[a-z_]+\.[A-Za-z0-9_.-]+$/, 'group.name');
      assert.equal(typeof v, 'string', 'values as strings, as kex answers');
    }
    const kamFetch = recorded('stats.fetch ["sl:","core:rcv_requests"]');
    for (const k of Object.keys(kamFetch).filter((k) => !/^sl\.(failures|received_ACKs|xxx_replies)$/.test(k))) assert.ok(k in fetched, `stats.fetch has ${k}`);
    const sl = await sipd!.rpc<Record<string, number>>('sl.stats');
    assert.deepEqual(Object.keys(sl), Object.keys(recorded('sl.stats []')));
    assert.ok(sl['200']! >= 3);
    const tm = await sipd!.rpc<Record<string, number>>('tm.stats');
    assert.deepEqual(Object.keys(tm).sort(), Object.keys(recorded('tm.stats []')).sort());
    const dlg = await sipd!.rpc<Record<string, number>>('dlg.stats_active');
    assert.deepEqual(Object.keys(dlg).sort(), ['all', 'answering', 'connecting', 'ongoing', 'starting']);
  });
});
