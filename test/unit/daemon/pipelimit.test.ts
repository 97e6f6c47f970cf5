// Calls per second (the pipelimit module): TAILDROP pipes per interval, overall and per
// subscriber, the 503 with Retry-After, and Kamailio's pl.* RPC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { PipeTable } from '../../../src/daemon/modules/pipelimit/pipes.js';
import { createPipelimitModule, type PipelimitApi } from '../../../src/daemon/modules/pipelimit/pipelimit-module.js';

test('pipe table: at most limit × interval per interval, reset at the boundary; limit 0 passes; idle per-user pipes are forgotten', () => {
  const t = new PipeTable(1000);
  t.set('cps', 3, 0);
  const pass = (at: number) => t.push('cps', 0, at);
  assert.deepEqual([pass(0), pass(100), pass(200), pass(300), pass(999)], [true, true, true, false, false]);
  assert.deepEqual([pass(1000), pass(1001), pass(1002), pass(1003)], [true, true, true, false]);
  assert.equal(t.get('cps')!.dropped, 3);
  assert.equal(t.push('nolimit', 0, 0), true, 'no pipe and no default: passes');
  assert.equal(t.get('nolimit'), undefined);
  assert.equal(t.push('cps:alice', 1, 5000), true);
  assert.equal(t.push('cps:alice', 1, 5500), false);
  assert.equal(t.sweep(70_000, 60_000), 1, 'idle unpinned pipe forgotten');
  assert.ok(t.get('cps'), 'pinned pipe kept');
  const t2 = new PipeTable(2000);
  for (let i = 0; i < 4; i++) assert.equal(t2.push('x', 2, i * 100), true);
  assert.equal(t2.push('x', 2, 500), false, 'limit is per second: 2/s over a 2 s interval = 4');
});

test('module: per-subscriber and overall limits → 503 with Retry-After; pl.set_pipe changes a pipe; pl.get_pipes / pl.stats shapes', async () => {
  let now = 10_000;
  const mod = createPipelimitModule();
  const reg = new ModuleRegistry();
  reg.register(mod);
  await reg.initAll({ params: new Map([['pipelimit', { cps_total: 3, cps_per_user: 1, retry_after: 7 }]]), now: () => now });
  const api = mod.api as PipelimitApi;
  const rpc = (m: string, p?: unknown[]) => reg.lookup(m)!.handler(p);
  assert.equal(api.check('alice'), undefined);
  assert.deepEqual(api.check('alice'), { status: 503, reason: 'Server Unavailable', headers: [['Retry-After', '7']] });
  assert.equal(api.check('bob'), undefined);
  assert.equal(api.check(undefined), undefined, 'a carrier call counts against the total only');
  assert.equal(api.check('carol')?.status, 503, 'the total (3/s) is used up');
  now += 1000;
  assert.equal(api.check('alice'), undefined, 'next second');
  assert.equal(await rpc('pl.set_pipe', ['cps:alice', 'TAILDROP', 5]), null);
  assert.equal(api.check('alice'), undefined);
  const pipes = (await rpc('pl.get_pipes')) as Array<{ name: string; algorithm: string; limit: number; counter: number }>;
  assert.deepEqual(pipes.find((p) => p.name === 'cps:alice'), { name: 'cps:alice', algorithm: 'TAILDROP', limit: 5, counter: 2 });
  assert.deepEqual(pipes.find((p) => p.name === 'cps'), { name: 'cps', algorithm: 'TAILDROP', limit: 3, counter: 2 });
  assert.ok(((await rpc('pl.stats')) as Array<{ name: string; load: number }>).some((p) => p.name === 'cps' && p.load === 67));
  await assert.rejects(async () => rpc('pl.set_pipe', ['cps', 'RED', 5]), /Unknown algorithm/);
  await assert.rejects(async () => rpc('pl.set_pipe', ['cps', 'TAILDROP', -1]), /Bad limit/);
  assert.equal(((await rpc('pipelimit.stats')) as { refused: number }).refused, 2);
  await reg.destroyAll();
});

test("pipe table: count() records a call admitted elsewhere (a cluster's shared pipe) without refusing; limitOf() a pipe's own limit, else the default", () => {
  const t = new PipeTable(1000);
  t.set('cps', 2, 0);
  for (let i = 0; i < 5; i++) t.count('cps', 0, 10 * i);
  assert.equal(t.get('cps')!.counter, 5, 'counted past the limit: the decision was made elsewhere');
  assert.equal(t.get('cps')!.dropped, 0);
  t.count('cps', 0, 1500);
  assert.equal(t.get('cps')!.counter, 1, 'a new interval starts from 0');
  t.count('cps:bob', 0, 0);
  assert.equal(t.get('cps:bob'), undefined, 'no pipe and no default limit: nothing made');
  t.count('cps:alice', 3, 0);
  assert.equal(t.get('cps:alice')!.counter, 1);
  assert.equal(t.limitOf('cps:alice', 9), 3);
  assert.equal(t.limitOf('cps:carol', 9), 9);
});
