// sl.stats as Kamailio 5.6 answers it (test/fixtures/kamailio/recorded/stats_methods.txt, recorded
// from the lab Kamailio): the same keys in the same order, the listed codes counted on their own
// and each class without them; and the per-code counters the pipeline now keeps appear in
// stats.get_statistics at 0 from the start, as Kamailio's sl: group does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import type { Logger } from '../../../src/daemon/kernel/module.js';
import { SL_CODES, createStatsModule } from '../../../src/daemon/modules/stats/stats-module.js';
import { LAB_RECORDED } from '../../helpers/kamailio.js';

/** The recorded result of one call: the JSON after its "### method [params]" line. */
function recorded(call: string): unknown {
  const text = readFileSync(join(LAB_RECORDED, 'stats_methods.txt'), 'utf8');
  const parts = text.split(/^### /m);
  const part = parts.find((p) => p.startsWith(`${call}\n`));
  assert.ok(part, `fixture has ${call}`);
  return JSON.parse(part.slice(call.length + 1));
}

async function setup() {
  const mod = createStatsModule();
  const reg = new ModuleRegistry();
  reg.register(mod);
  const log: Logger = { debug() {}, info() {}, warn() {}, error() {} };
  await reg.initAll({ params: new Map(), log });
  return { api: mod.api!, call: (m: string, p?: unknown[]) => reg.lookup(m)!.handler(p) };
}

test("sl.stats: Kamailio's keys, in its order", async () => {
  const kam = recorded('sl.stats []') as Record<string, number>;
  const { call } = await setup();
  const ours = (await call('sl.stats')) as Record<string, number>;
  assert.deepEqual(Object.keys(ours), Object.keys(kam));
  for (const v of Object.values(ours)) assert.equal(v, 0);
});

test('sl.stats: a listed code is counted by itself, the class counts the others (as Kamailio: 200 x5 → "200": 5, "2xx": 0)', async () => {
  const kam = recorded('sl.stats []') as Record<string, number>;
  assert.equal(kam['200'], 5);
  assert.equal(kam['2xx'], 0, 'Kamailio does not count a 200 in 2xx');
  const { api, call } = await setup();
  // what the pipeline counts for 5 × 200, 2 × 403, 1 × 488 (the class counters hold every reply)
  api.inc('sl:2xx_replies', 5);
  api.inc('sl:200_replies', 5);
  api.inc('sl:4xx_replies', 3);
  api.inc('sl:403_replies', 2);
  const ours = (await call('sl.stats')) as Record<string, number>;
  assert.equal(ours['200'], 5);
  assert.equal(ours['2xx'], 0);
  assert.equal(ours['403'], 2);
  assert.equal(ours['4xx'], 1, 'the 488');
});

test("the sl: codes Kamailio lists are sipd counters from the start", async () => {
  const kam = recorded('stats.fetch ["sl:"]') as Record<string, string>;
  const { call } = await setup();
  const lines = (await call('stats.get_statistics', ['sl:'])) as string[];
  for (const c of SL_CODES) {
    assert.ok(`sl.${c}_replies` in kam, `Kamailio has sl.${c}_replies`);
    assert.ok(lines.includes(`sl:${c}_replies = 0`), `sipd lists sl:${c}_replies`);
  }
});
