import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterApi, ClusterHtableEvent, CoreApi, PermissionsApi, SecurityEvent } from '../../../src/daemon/kernel/contracts.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { RpcFault } from '../../../src/daemon/kernel/rpc-fault.js';
import { DEFAULT_HTABLES, makeDefinition } from '../../../src/daemon/modules/htable/htable.js';
import { createHtableModule, type HtableModuleApi } from '../../../src/daemon/modules/htable/htable-module.js';
import { FloodDetector } from '../../../src/daemon/modules/pike/flood-detector.js';
import { createPikeModule, type PikeApi } from '../../../src/daemon/modules/pike/pike-module.js';

test('FloodDetector: 16 requests in a unit pass, the 17th is a flood', () => {
  const d = new FloodDetector({ unitMs: 2000, maxHits: 16, maxEntries: 100 });
  for (let i = 0; i < 16; i++) assert.equal(d.hit('10.0.0.1', 1000 + i), false, `hit ${i + 1}`);
  assert.equal(d.hit('10.0.0.1', 1020), true);
});

test('FloodDetector: a steady rate under the limit never trips; the window slides', () => {
  const d = new FloodDetector({ unitMs: 2000, maxHits: 16, maxEntries: 100 });
  // 7 requests per second = 14 per unit, for a minute
  for (let t = 0; t < 60_000; t += 143) assert.equal(d.hit('10.0.0.1', t), false, `at ${t} ms`);
  // 10 at the end of one unit and 10 at the start of the next: 20 within ~2 ms is a flood
  const e = new FloodDetector({ unitMs: 2000, maxHits: 16, maxEntries: 100 });
  let hot = false;
  for (let i = 0; i < 10; i++) hot ||= e.hit('10.0.0.2', 1990 + i);
  for (let i = 0; i < 10; i++) hot ||= e.hit('10.0.0.2', 2000 + i);
  assert.equal(hot, true, 'a burst across a unit boundary is still caught');
  // and after two quiet units the count starts afresh
  assert.equal(e.hit('10.0.0.2', 7000), false);
});

test('FloodDetector: sweep forgets quiet sources; cap evicts least recently seen', () => {
  const d = new FloodDetector({ unitMs: 1000, maxHits: 16, maxEntries: 1000 });
  for (let i = 0; i < 500; i++) d.hit(`10.1.${i >> 8}.${i & 255}`, 0);
  d.hit('10.9.9.9', 1500);
  assert.equal(d.sweep(2500), 500);
  assert.equal(d.size, 1);

  // A spoofed flood: 100,000 one-packet sources, interleaved with one real flooder.
  const c = new FloodDetector({ unitMs: 2000, maxHits: 16, maxEntries: 1000 });
  let caught = false;
  for (let i = 0; i < 100_000; i++) {
    c.hit(`198.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 10_000 + i / 100);
    if (i % 50 === 0) caught ||= c.hit('203.0.113.7', 10_000 + i / 100);
    assert.ok(c.size <= 1000);
  }
  assert.equal(c.size, 1000, 'bounded by max_entries');
  assert.ok(c.evicted >= 99_000);
  assert.equal(caught, true, 'the real flooder stays tracked and is caught');
});

/** listeners the htable module gave the fake cluster (a change another node made) */
const fromOtherNodes: Array<(ev: ClusterHtableEvent) => void> = [];

interface Harness {
  reg: ModuleRegistry;
  pike: PikeApi;
  htable: HtableModuleApi;
  events: SecurityEvent[];
  tick(ms: number): void;
  call(method: string, params?: unknown): Promise<unknown>;
}

async function harness(params: Record<string, unknown> = {}, trusted: Record<string, string[]> = {}, members?: Set<string>): Promise<Harness> {
  let now = 1_000_000;
  const events: SecurityEvent[] = [];
  const reg = new ModuleRegistry();
  const core: CoreApi = {
    database: () => Promise.reject(new Error('no db')),
    securityEvent: (e) => events.push(e),
    isMyself: (h) => h === '127.0.0.1',
    domains: () => [],
    stateDir: '/nonexistent',
    sipSockets: () => [],
    onSipSocketsBound: () => undefined,
  };
  reg.register(defineModule({ name: 'core', params: {}, init() {}, destroy() {}, rpc: {}, api: core }));
  const ht = createHtableModule({ definitions: Object.entries(DEFAULT_HTABLES).map(([n, a]) => makeDefinition(n, a)) });
  reg.register(ht);
  if (Object.keys(trusted).length > 0) {
    const perms: PermissionsApi = {
      allowSource: (g, ip) => (trusted[String(g)] ?? []).includes(ip),
      groupsOf: () => [],
      reload: async () => undefined,
    };
    reg.register(defineModule({ name: 'permissions', params: {}, init() {}, destroy() {}, rpc: {}, api: perms }));
  }
  if (members !== undefined) {
    // a cluster node's view of the membership: the live members' UDP addresses
    const cluster = {
      enabled: true,
      nodeId: 'node-a',
      memberAddress: (ip: string) => members.has(ip),
      up: () => true,
      htableSet: () => undefined,
      htableDelete: () => undefined,
      onHtable: (l: (ev: ClusterHtableEvent) => void) => void fromOtherNodes.push(l),
      onConnect: () => undefined,
    } as unknown as ClusterApi;
    reg.register(defineModule({ name: 'cluster', params: {}, init() {}, destroy() {}, rpc: {}, api: cluster }));
  }
  const pike = createPikeModule();
  reg.register(pike);
  await reg.initAll({ now: () => now, params: new Map([['pike', params]]) });
  return {
    reg,
    pike: pike.api as PikeApi,
    htable: ht.api as HtableModuleApi,
    events,
    tick: (ms) => (now += ms),
    call: async (m, p) => reg.lookup(m)!.handler(p as never),
  };
}

test('pike module: a flood bans the source in ipban; it is dropped until the entry expires', async () => {
  const h = await harness();
  for (let i = 0; i < 16; i++) assert.deepEqual(h.pike.admit('127.0.0.2', 'OPTIONS'), { action: 'continue' });
  assert.deepEqual(h.pike.admit('127.0.0.2', 'OPTIONS'), { action: 'drop', why: 'flood' });
  assert.deepEqual(h.htable.get('ipban', '127.0.0.2'), { type: 'int', value: 1 });
  assert.deepEqual(h.events.map((e) => e.event), ['flood-ban']);
  assert.equal(h.events[0].sourceIp, '127.0.0.2');
  assert.equal(h.events[0].method, 'OPTIONS');
  assert.deepEqual(h.pike.admit('127.0.0.2'), { action: 'drop', why: 'banned' });
  assert.equal(h.events.at(-1)?.event, 'banned-drop');
  // other sources are untouched
  assert.deepEqual(h.pike.admit('127.0.0.3'), { action: 'continue' });
  h.tick(299_000);
  assert.equal(h.pike.admit('127.0.0.2').action, 'drop');
  h.tick(2_000);
  assert.deepEqual(h.pike.admit('127.0.0.2'), { action: 'continue' }, 'ban expired with ipban autoexpire (300 s)');
  // an operator can lift a ban by hand
  for (let i = 0; i < 20; i++) h.pike.admit('127.0.0.4');
  assert.ok(h.pike.banned('127.0.0.4'));
  await h.call('htable.delete', ['ipban', '127.0.0.4']);
  assert.deepEqual(h.pike.admit('127.0.0.4'), { action: 'continue' });
  await h.reg.destroyAll();
});

test('pike module: refusals per source are budgeted (refusals_per_unit); not a ban; exempt sources and 0 = no limit', async () => {
  const h = await harness({ refusals_per_unit: 3 }, { '7': ['10.7.7.7'] });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => h.pike.refused('192.0.2.1')), [true, true, true, false, false]);
  assert.equal(h.pike.refused('192.0.2.2'), true, 'another source has its own budget');
  assert.equal(h.pike.banned('192.0.2.1'), false, 'not banned: a forged address must not lock its owner out');
  assert.equal(h.pike.admit('192.0.2.1').action, 'continue');
  assert.equal(((await h.call('pike.stats')) as { refusals_suppressed: number }).refusals_suppressed, 2);
  h.tick(4_001); // two sampling units later the budget is back
  assert.equal(h.pike.refused('192.0.2.1'), true);
  for (let i = 0; i < 10; i++) assert.equal(h.pike.refused('127.0.0.1'), true, 'the proxy itself is exempt');
  await h.reg.destroyAll();
  const off = await harness({ refusals_per_unit: 0 });
  for (let i = 0; i < 50; i++) assert.equal(off.pike.refused('192.0.2.1'), true);
  await off.reg.destroyAll();
});

test('pike module: the proxy itself and trusted groups are exempt', async () => {
  const h = await harness({ trusted_groups: '1, 7' }, { '7': ['10.7.7.7'] });
  for (let i = 0; i < 100; i++) {
    assert.equal(h.pike.admit('127.0.0.1').action, 'continue');
    assert.equal(h.pike.admit('10.7.7.7').action, 'continue');
  }
  assert.equal(h.events.length, 0);
  // an exempt source is never dropped, even when someone put it in ipban
  h.htable.setInt('ipban', '127.0.0.1', 1);
  assert.equal(h.pike.admit('127.0.0.1').action, 'continue');
  await h.reg.destroyAll();
});

test('pike module, cluster: a live member\'s authenticated requests are not counted; unauthenticated ones are, dropped over the limit, never banned; the ban table refuses a member\'s address', async () => {
  const members = new Set(['10.0.0.2']);
  const h = await harness({}, {}, members);
  assert.equal(h.pike.member('10.0.0.2'), true);
  assert.equal(h.pike.member('10.0.0.9'), false, 'a stranger');
  assert.equal(h.pike.member('127.0.0.1'), false, 'the proxy itself stays exempt');
  for (let i = 0; i < 200; i++) assert.deepEqual(h.pike.admitMember('10.0.0.2', 'INVITE', true), { action: 'continue' });
  for (let i = 0; i < 16; i++) assert.deepEqual(h.pike.admitMember('10.0.0.2', 'INVITE', false), { action: 'continue' });
  assert.deepEqual(h.pike.admitMember('10.0.0.2', 'INVITE', false), { action: 'drop', why: 'flood' });
  assert.equal(h.pike.banned('10.0.0.2'), false, 'dropped, not banned: the source may be forged');
  assert.equal(h.events.length, 0);
  const st = (await h.call('pike.stats')) as { bans: number; member_exempt: number; member_drops: number };
  assert.deepEqual([st.bans, st.member_exempt, st.member_drops], [0, 200, 1]);
  // a ban of a member's address: refused here, over RPC and from other nodes
  h.htable.setInt('ipban', '10.0.0.2', 1);
  assert.equal(h.htable.get('ipban', '10.0.0.2'), undefined);
  await assert.rejects(h.call('htable.seti', ['ipban', '10.0.0.2', 1]), /Key refused: a live cluster member/);
  assert.equal(h.htable.get('ipban', '10.0.0.2'), undefined);
  assert.ok(fromOtherNodes.length > 0);
  for (const l of fromOtherNodes) l({ op: 'set', table: 'ipban', key: '10.0.0.2', value: { type: 'int', value: 1 }, expires: 0 });
  assert.equal(h.htable.get('ipban', '10.0.0.2'), undefined, 'a ban another node replicated');
  // a stranger is banned as before; a node that left is an address like any other
  for (let i = 0; i < 17; i++) h.pike.admit('10.0.0.9');
  assert.equal(h.pike.banned('10.0.0.9'), true);
  members.delete('10.0.0.2');
  assert.equal(h.pike.member('10.0.0.2'), false);
  h.htable.setInt('ipban', '10.0.0.2', 1);
  assert.equal(h.pike.banned('10.0.0.2'), true);
  await h.reg.destroyAll();
});

test('pike module: parameters (density, unit) and pike.top / pike.list shape', async () => {
  const h = await harness({ reqs_density_per_unit: 4, sampling_time_unit: 1 });
  for (let i = 0; i < 3; i++) h.pike.admit('192.0.2.1');
  for (let i = 0; i < 4; i++) h.pike.admit('192.0.2.2');
  const top = (await h.call('pike.top', ['ALL'])) as { max_hits: number; list: Array<Record<string, unknown>>; number_of_rows: number };
  assert.deepEqual(Object.keys(top), ['max_hits', 'list', 'number_of_rows']);
  assert.equal(top.max_hits, 4);
  assert.equal(top.number_of_rows, 2);
  assert.deepEqual(Object.keys(top.list[0]), ['ip_addr', 'leaf_hits_prev', 'leaf_hits_curr', 'expires', 'status']);
  assert.deepEqual(top.list.map((r) => [r.ip_addr, r.leaf_hits_curr, r.status]), [['192.0.2.2', 4, 'WARM'], ['192.0.2.1', 3, 'WARM']]);
  assert.deepEqual(await h.call('pike.top'), { max_hits: 4, list: [], number_of_rows: 0 }, 'default HOT');
  assert.deepEqual(await h.call('pike.list', ['warm']), top);
  await assert.rejects(h.call('pike.top', ['BOGUS']), (e: unknown) => e instanceof RpcFault && e.code === 500 && e.message === 'Bad argument. Select: ALL, HOT or WARM');
  assert.equal(h.pike.admit('192.0.2.2').action, 'drop');
  assert.deepEqual(await h.call('pike.stats'), { tracked: 1, evicted: 0, bans: 1, refusals_suppressed: 0, max_entries: 100_000, member_exempt: 0, member_drops: 0 });
  await h.reg.destroyAll();
});

test('pike module: refuses to start without its ban table', async () => {
  await assert.rejects(harness({ ban_table: 'nosuch' }), /no htable named "nosuch"/);
  await assert.rejects(harness({ trusted_groups: 'x' }), /not a group number/);
});

test('pike module: memory bounded under a spoofed flood through the module (max_entries)', async () => {
  const h = await harness({ max_entries: 1000 });
  for (let i = 0; i < 20_000; i++) h.pike.admit(`198.18.${(i >> 8) & 255}.${i & 255}`);
  const stats = (await h.call('pike.stats')) as { tracked: number; evicted: number };
  assert.equal(stats.tracked, 1000);
  assert.equal(stats.evicted, 19_000);
  assert.equal(h.htable.keys('ipban').length, 0, 'one packet per source bans nobody');
  await h.reg.destroyAll();
});
