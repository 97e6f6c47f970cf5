/** The stats module: counters, gauges and stats.get_statistics in Kamailio's shape. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { RpcFault } from '../../../src/daemon/kernel/rpc-fault.js';
import { type Logger } from '../../../src/daemon/kernel/module.js';
import { WELL_KNOWN_COUNTERS, createStatsModule } from '../../../src/daemon/modules/stats/stats-module.js';

function logger() {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push({ level, msg, fields });
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

async function setup(params: Record<string, unknown> = {}) {
  const mod = createStatsModule();
  const reg = new ModuleRegistry();
  reg.register(mod);
  const { log, lines } = logger();
  await reg.initAll({ params: new Map([['stats', params]]), log });
  const call = (method: string, p?: unknown[]) => reg.lookup(method)!.handler(p);
  return { api: mod.api!, reg, call, lines };
}

/** "group:name = value" → [group, name, value], failing on anything else. */
function parseLine(line: string): [string, string, number] {
  const m = /^([a-z][a-z0-9_]*):([A-Za-z0-9_.-]+) = (-?\d+)$/.exec(line);
  assert.ok(m, `not a Kamailio statistic line: ${JSON.stringify(line)}`);
  return [m[1], m[2], Number(m[3])];
}

describe('stats.get_statistics', () => {
  test('"all" lists every well-known counter at 0, one "group:name = value" string each (kex rpc_get_grp_vars_cbk)', async () => {
    const { call } = await setup();
    const out = call('stats.get_statistics', ['all']) as string[];
    assert.ok(Array.isArray(out));
    const parsed = out.map(parseLine);
    assert.deepEqual(new Set(parsed.map(([g, n]) => `${g}:${n}`)), new Set(WELL_KNOWN_COUNTERS));
    assert.ok(parsed.every(([, , v]) => v === 0));
    // groups come sorted, so the output is stable for scripts
    const groups = parsed.map(([g]) => g);
    assert.deepEqual(groups, [...groups].sort());
  });

  test('counters count, per group and by bare name, several arguments at once', async () => {
    const { api, call } = await setup();
    api.inc('core:rcv_requests');
    api.inc('core:rcv_requests', 4);
    api.inc('sl:4xx_replies');
    api.inc('auth:failures', 2);
    assert.deepEqual(call('stats.get_statistics', ['core:']), ['core:rcv_requests = 5', 'core:rcv_replies = 0', 'core:drop_requests = 0', 'core:err_requests = 0']);
    assert.deepEqual(call('stats.get_statistics', ['rcv_requests']), ['core:rcv_requests = 5'], 'a bare statistic name, as Kamailio get_stat()');
    assert.deepEqual(call('stats.get_statistics', ['sl:4xx_replies', 'auth:failures']), ['sl:4xx_replies = 1', 'auth:failures = 2']);
    assert.equal((call('stats.get_statistics', ['auth']) as string[]).length, 6, 'sipd extension: a bare group name is the group');
    assert.deepEqual(call('stats.get_statistics', ['nosuch']), [], 'unknown names print nothing, as in Kamailio');
    assert.deepEqual(call('stats.get_statistics', ['nosuch:']), []);
  });

  test('without a parameter: Kamailio fault 400 "Please provide which stats to retrieve"', async () => {
    const { call } = await setup();
    assert.throws(() => call('stats.get_statistics', []), (e: unknown) => {
      assert.ok(e instanceof RpcFault);
      assert.deepEqual([e.code, e.message], [400, 'Please provide which stats to retrieve']);
      return true;
    });
    assert.throws(() => call('stats.get_statistics', undefined));
  });

  test('gauges are read when asked for, and a failing gauge reads 0 instead of breaking the reply', async () => {
    const { api, call, lines } = await setup();
    let users = 3;
    api.gauge('usrloc:registered_users', () => users);
    api.gauge('usrloc:broken', () => {
      throw new Error('boom');
    });
    assert.deepEqual(call('stats.get_statistics', ['usrloc:']), ['usrloc:registered_users = 3', 'usrloc:broken = 0']);
    users = 7;
    assert.equal(api.get('usrloc:registered_users'), 7);
    assert.ok((call('stats.get_statistics', ['all']) as string[]).includes('usrloc:registered_users = 7'));
    assert.ok(lines.some((l) => l.level === 'warn' && l.msg.includes('gauge failed')));
    assert.throws(() => api.gauge('no group', () => 1), /invalid statistic name/);
  });

  test('new counters appear on first inc(); malformed names are ignored; the number of counters is bounded', async () => {
    const { api, call, lines } = await setup({ max_counters: 64 });
    api.inc('pike:blocked_ips');
    assert.equal(api.get('pike:blocked_ips'), 1);
    for (const bad of ['', 'nocolon', 'Upper:x', 'a:', ':b', 'a:b c', '__proto__:x', `x:${'y'.repeat(65)}`]) api.inc(bad);
    assert.equal((call('stats.get_statistics', ['all']) as string[]).length, WELL_KNOWN_COUNTERS.length + 1);
    for (let i = 0; i < 200; i++) api.inc(`flood:n${i}`);
    const all = call('stats.get_statistics', ['all']) as string[];
    assert.equal(all.length, 64, 'capped at max_counters');
    api.inc('core:rcv_requests');
    assert.equal(api.get('core:rcv_requests'), 1, 'existing counters still count when full');
    assert.equal(lines.filter((l) => l.msg.includes('counter limit')).length, 1, 'logged once');
  });

  test('stats.reset_statistics zeroes counters (not gauges); destroy starts over', async () => {
    const { api, call, reg } = await setup();
    api.inc('sl:2xx_replies', 9);
    api.inc('sl:4xx_replies', 2);
    api.gauge('usrloc:registered_users', () => 5);
    assert.deepEqual(call('stats.reset_statistics', ['sl:2xx_replies']), {});
    assert.equal(api.get('sl:2xx_replies'), 0);
    assert.equal(api.get('sl:4xx_replies'), 2);
    call('stats.reset_statistics', ['all']);
    assert.equal(api.get('sl:4xx_replies'), 0);
    assert.equal(api.get('usrloc:registered_users'), 5);
    await reg.destroyAll();
    assert.equal(api.get('usrloc:registered_users'), undefined);
  });
});
