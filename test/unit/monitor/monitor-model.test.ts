// The monitor's pure parts: stat parsing, rates, history and sparkline, the ban tables' newest
// keys, missing methods as null, and the screen layout (width, height, side by side, keys line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advance, newNodeState, rate, sparkline, formatBytes, HISTORY_POINTS } from '../../../src/core/monitor/model.js';
import { parseStatLines, type RawSample } from '../../../src/core/monitor/sample.js';
import { nodeLines, renderScreen } from '../../../src/core/monitor/render.js';

const stats = (o: Record<string, number>) => parseStatLines(Object.entries(o).map(([k, v]) => `${k} = ${v}`));

function kamailioSample(at: number, reqs: number, extra: Partial<RawSample> = {}): RawSample {
  return {
    at,
    version: 'kamailio 5.6.3 (x86_64/linux)',
    uptime: 100 + at / 1000,
    stats: stats({ 'core:rcv_requests': reqs, 'sl:200_replies': reqs / 4, 'sl:2xx_replies': reqs / 4, 'tmx:2xx_transactions': reqs / 2, 'sl:4xx_replies': 0, 'usrloc:registered_users': 3, 'usrloc:location-contacts': 4, 'usrloc:other-contacts': 1 }),
    htableSizes: new Map([['ipban', 2], ['userban', 0]]),
    banKeys: new Map([['ipban', ['192.0.2.1', '192.0.2.2']], ['userban', []]]),
    pike: [{ ip: '192.0.2.9', hits: 3, status: 'WARM' }, { ip: '192.0.2.8', hits: 40, status: 'HOT' }],
    shm: { used: 2 * 1024 * 1024, total: 64 * 1024 * 1024 },
    pkg: { used: 1024 * 1024, total: 8 * 1024 * 1024, processes: 13 },
    missing: ['dlg.stats_active'],
    ...extra,
  };
}

test('parseStatLines reads "group:name = value" and skips anything else', () => {
  const m = parseStatLines(['core:rcv_requests = 12', 'usrloc:location-users = 3', 'garbage', 'x:y = not-a-number']);
  assert.deepEqual([...m], [['core:rcv_requests', 12], ['usrloc:location-users', 3]]);
  assert.equal(parseStatLines(undefined).size, 0);
});

test('rate: per second; a counter that went down (restart) counts from zero; no previous → null', () => {
  assert.equal(rate(100, 300, 2), 100);
  assert.equal(rate(500, 30, 1), 30);
  assert.equal(rate(undefined, 5, 1), null);
  assert.equal(rate(1, 5, 0), null);
});

test('advance: first sample has no rates; the second has requests/s and replies/s by class (sl + tm)', () => {
  const st = newNodeState();
  const a = advance('k', st, kamailioSample(0, 1000));
  assert.equal(a.requestsPerSec, null);
  assert.equal(a.repliesPerSec, null);
  assert.equal(a.registeredUsers, 3);
  assert.equal(a.contacts, 5, 'every usrloc table\'s contacts');
  assert.equal(a.activeCalls, null, 'no dialog module: unknown, not 0');
  assert.deepEqual(a.missing, ['dlg.stats_active']);
  const b = advance('k', st, kamailioSample(2000, 1400));
  assert.equal(b.requestsPerSec, 200);
  assert.deepEqual(b.repliesPerSec, { '1xx': 0, '2xx': 200, '3xx': 0, '4xx': 0, '5xx': 0, '6xx': 0 });
  assert.deepEqual(b.floodSources!.map((f) => f.ip), ['192.0.2.8', '192.0.2.9'], 'most hits first');
  assert.equal(b.memory.shmUsed, 2 * 1024 * 1024);
  assert.equal(b.memory.rss, null);
  assert.deepEqual(b.history, [0, 200]);
});

test('advance: sipd has its RSS as a statistic; active calls from dialog:active_dialogs', () => {
  const st = newNodeState();
  const s = advance('sipd', st, { at: 0, version: 'sipd 0.1.0', uptime: 5, stats: stats({ 'sipd:rss_kb': 2048, 'dialog:active_dialogs': 2, 'usrloc:location_contacts': 7 }), missing: [] });
  assert.equal(s.memory.rss, 2048 * 1024);
  assert.equal(s.activeCalls, 2);
  assert.equal(s.contacts, 7);
  assert.equal(s.bans.ipban.size, null);
  assert.equal(s.floodSources, null);
});

test('ban tables: the keys that appeared most recently come first; keys gone are forgotten', () => {
  const st = newNodeState();
  advance('k', st, kamailioSample(0, 0, { banKeys: new Map([['ipban', ['a', 'b']]]) }));
  const s2 = advance('k', st, kamailioSample(1000, 0, { banKeys: new Map([['ipban', ['a', 'b', 'c']]]) }));
  assert.equal(s2.bans.ipban.newest[0], 'c');
  const s3 = advance('k', st, kamailioSample(2000, 0, { banKeys: new Map([['ipban', ['b', 'c', 'd', 'e']]]) }));
  assert.deepEqual(s3.bans.ipban.newest, ['d', 'e', 'c']);
});

test('a node that fails shows as down, keeps its history, and its rates restart', () => {
  const st = newNodeState();
  advance('k', st, kamailioSample(0, 0));
  const down = advance('k', st, undefined, 'connection refused');
  assert.equal(down.ok, false);
  assert.equal(down.error, 'connection refused');
  const back = advance('k', st, kamailioSample(2000, 50));
  assert.equal(back.requestsPerSec, null);
  assert.equal(back.history.length, 3);
});

test('history keeps one minute of points; sparkline scales to the largest', () => {
  const st = newNodeState();
  for (let i = 0; i < 100; i++) advance('k', st, kamailioSample(i * 1000, i * 10));
  assert.equal(st.history.length, HISTORY_POINTS);
  assert.equal(sparkline([0, 0, 0], 3), '▁▁▁');
  assert.equal(sparkline([0, 5, 10], 3), '▁▅█');
  assert.equal([...sparkline([1, 2], 10)].length, 10, 'padded to the width');
  assert.equal(formatBytes(null), '—');
  assert.equal(formatBytes(1536), '1.5 KiB');
});

test('screen: every line fits the width, exactly the height, the keys line last, missing methods named', () => {
  const st = newNodeState();
  advance('k', st, kamailioSample(0, 0));
  const n = advance('k', st, kamailioSample(1000, 100));
  const snap = { time: '2026-12-06T21:00:00.000Z', intervalSec: 1, nodes: [n] };
  const lines = renderScreen(snap, { width: 80, height: 30, paused: false, focus: 0 });
  assert.equal(lines.length, 30);
  for (const l of lines) assert.ok([...l].length <= 80, l);
  const text = lines.join('\n');
  assert.match(text, /requests\/s\s+100\n/);
  assert.match(text, /replies\/s\s+1xx 0\.0  2xx 100  3xx 0\.0/);
  assert.match(text, /registered\s+3 users, 5 contacts/);
  assert.match(text, /calls\s+—/);
  assert.match(text, /ipban\s+2\s+newest: 192\.0\.2\.1, 192\.0\.2\.2/);
  assert.match(text, /flooding\s+192\.0\.2\.8 40 hits HOT/);
  assert.match(text, /memory\s+shm 2\.0 MiB \/ 64\.0 MiB/);
  assert.match(text, /missing\s+dlg\.stats_active/);
  assert.equal(lines.at(-1), 'q quit  p pause');
  assert.match(renderScreen(snap, { width: 80, height: 30, paused: true, focus: 0 }).join('\n'), /\[PAUSED\][\s\S]*p resume/);
});

test('screen: nodes side by side when they fit, else the focused ones and "n of m shown"', () => {
  const a = advance('alpha', newNodeState(), kamailioSample(0, 0));
  const b = advance('beta', newNodeState(), undefined, 'connection refused');
  const snap = { time: '2026-12-06T21:00:00.000Z', intervalSec: 1, nodes: [a, b] };
  const wide = renderScreen(snap, { width: 100, height: 25, paused: false, focus: 0 }).join('\n');
  assert.match(wide, /■ alpha.*■ beta/);
  assert.match(wide, /DOWN: connection refused/);
  const narrow = renderScreen(snap, { width: 60, height: 25, paused: false, focus: 1 });
  assert.match(narrow[2]!, /■ beta/);
  assert.doesNotMatch(narrow.join('\n'), /■ alpha/);
  assert.match(narrow.at(-1)!, /n next node {2}\(1 of 2 shown\)/);
});

test('values from the proxy cannot drive the terminal', () => {
  const n = advance('k', newNodeState(), kamailioSample(0, 0, { version: 'evil\u001b[2J\u009b' }));
  assert.doesNotMatch(nodeLines(n, 60).join(''), /[\u001b\u009b]/);
});
