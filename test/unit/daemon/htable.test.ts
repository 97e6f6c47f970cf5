import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { RpcFault } from '../../../src/daemon/kernel/rpc-fault.js';
import { DEFAULT_HTABLES, Htable, makeDefinition } from '../../../src/daemon/modules/htable/htable.js';
import { coreCaseHash } from '../../../src/daemon/kernel/kamailio-hash.js';
import { createHtableModule, type HtableModuleApi } from '../../../src/daemon/modules/htable/htable-module.js';

const defaults = () => Object.entries(DEFAULT_HTABLES).map(([n, a]) => makeDefinition(n, a));

async function setup(opts: { defs?: ReturnType<typeof defaults>; maxEntries?: number } = {}) {
  let now = Date.UTC(2026, 10, 21, 5, 38, 23);
  const reg = new ModuleRegistry();
  const mod = createHtableModule({ definitions: opts.defs ?? [...defaults(), makeDefinition('MessageCount', {})] });
  reg.register(mod);
  await reg.initAll({ now: () => now, params: opts.maxEntries ? new Map([['htable', { max_entries: opts.maxEntries }]]) : undefined });
  const call = async (method: string, params?: unknown) => reg.lookup(method)!.handler(params as never);
  const fault = async (method: string, params: unknown) => {
    try {
      await call(method, params);
    } catch (e) {
      assert.ok(e instanceof RpcFault, `expected RpcFault, got ${String(e)}`);
      return { code: e.code, message: e.message };
    }
    assert.fail(`${method} did not fail`);
  };
  return { reg, mod, api: mod.api as HtableModuleApi, call, fault, tick: (ms: number) => (now += ms), now: () => now, close: () => reg.destroyAll() };
}

test('coreCaseHash: same slots as Kamailio 5.6 (observed in htable.dump output, size 256)', () => {
  const seen: Record<string, number> = { '1.2.3.4': 253, '5.6.7.8': 245, '1.1.1.1': 232, '1.1.1.2': 229, ExampleInt: 146, ExampleAdd: 201 };
  for (const [k, slot] of Object.entries(seen)) assert.equal(coreCaseHash(k) & 255, slot, k);
  // case-insensitive hash, as core_case_hash is
  assert.equal(coreCaseHash('EXAMPLEADD'), coreCaseHash('exampleadd'));
});

test('htable.dump / seti / get / sets: Kamailio shapes and messages', async () => {
  const h = await setup();
  assert.equal(await h.call('htable.seti', ['ipban', '1.2.3.4', 1]), 'Ok. Key set to new value.');
  assert.equal(await h.call('htable.seti', ['ipban', '5.6.7.8', '1']), 'Ok. Key set to new value.');
  assert.deepEqual(await h.call('htable.dump', ['ipban']), [
    { entry: 245, size: 1, slot: [{ name: '5.6.7.8', value: 1, type: 'int' }] },
    { entry: 253, size: 1, slot: [{ name: '1.2.3.4', value: 1, type: 'int' }] },
  ]);
  // Extra params are ignored, as Kamailio does.
  assert.equal((await h.call('htable.dump', ['ipban', 'extra', 1]) as unknown[]).length, 2);
  const got = (await h.call('htable.get', ['ipban', '1.2.3.4'])) as { item: Record<string, unknown> };
  assert.deepEqual(Object.keys(got.item), ['name', 'value', 'flags', 'expire']);
  assert.equal(got.item.flags, 0);
  assert.match(String(got.item.expire), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  // named params, as Kamailio accepts them
  assert.deepEqual(await h.call('htable.get', { htable: 'ipban', key: '1.2.3.4' }), got);

  await h.call('htable.sets', ['MessageCount', 'ExampleAdd', 'Iamastring']);
  assert.deepEqual(await h.call('htable.get', ['MessageCount', 'ExampleAdd']), { item: { name: 'ExampleAdd', value: 'Iamastring', flags: 2, expire: 'NEVER' } });
  assert.deepEqual(await h.call('htable.dump', ['MessageCount']), [{ entry: 201, size: 1, slot: [{ name: 'ExampleAdd', value: 'Iamastring', type: 'str' }] }]);
  await h.call('htable.sets', ['MessageCount', 'num', 123]);
  assert.equal(h.api.get('MessageCount', 'num')?.value, '123');
  await h.close();
});

test('htable errors: Kamailio codes and messages; bad values are -32602', async () => {
  const h = await setup();
  assert.deepEqual(await h.fault('htable.dump', ['nosuchtable']), { code: 500, message: 'No such htable' });
  assert.deepEqual(await h.fault('htable.dump', undefined), { code: 500, message: 'No htable name given' });
  assert.deepEqual(await h.fault('htable.dump', []), { code: 500, message: 'No htable name given' });
  assert.deepEqual(await h.fault('htable.get', ['nosuchtable', 'k']), { code: 500, message: 'No such htable' });
  assert.deepEqual(await h.fault('htable.get', ['ipban', '9.9.9.9']), { code: 500, message: "Key name doesn't exist in htable." });
  assert.deepEqual(await h.fault('htable.get', ['ipban']), { code: 500, message: 'Not enough parameters (htable name and key name)' });
  assert.deepEqual(await h.fault('htable.seti', ['ipban']), { code: 500, message: 'Not enough parameters (htable name, key name and value)' });
  assert.deepEqual(await h.fault('htable.sets', ['ipban', 'k']), { code: 500, message: 'Not enough parameters (htable name, key name and value)' });
  assert.deepEqual(await h.fault('htable.delete', ['MessageCount', 'ExampleAdd']), { code: 404, message: 'Key not found in htable.' });
  assert.deepEqual(await h.fault('htable.delete', ['nosuchtable', 'foo']), { code: 500, message: 'No such htable' });
  assert.deepEqual(await h.fault('htable.flush', ['nosuchtable']), { code: 500, message: 'No such htable' });
  assert.deepEqual(await h.fault('htable.reload', ['ipban']), { code: 500, message: 'No htable db_url' });
  // Kamailio stores 0 for a non-integer seti and says OK; sipd refuses it.
  assert.equal((await h.fault('htable.seti', ['ipban', '1.1.1.1', 'abc'])).code, -32602);
  assert.equal((await h.fault('htable.seti', ['ipban', '1.1.1.1', 1.5])).code, -32602);
  assert.equal((await h.fault('htable.get', { htable: 'ipban', bogus: 1 })).code, -32602);
  assert.equal((await h.fault('htable.dump', [{}])).code, -32602);
  assert.equal(h.api.get('ipban', '1.1.1.1'), undefined);
  await h.close();
});

test('htable.delete, flush, listTables, stats', async () => {
  const h = await setup();
  h.api.setStr('MessageCount', 'a', 'x');
  h.api.setInt('MessageCount', 'b', 2);
  assert.equal(await h.call('htable.delete', ['MessageCount', 'a']), 'Ok. Key deleted.');
  assert.equal(await h.call('htable.flush', ['MessageCount']), 'Ok. Htable flushed.');
  assert.deepEqual(await h.call('htable.dump', ['MessageCount']), []);
  assert.deepEqual(await h.call('htable.listTables'), [
    { name: 'ipban', dbtable: '', dbmode: 0, expire: 300, updateexpire: 1, size: 256, dmqreplicate: 0 },
    { name: 'userban', dbtable: '', dbmode: 0, expire: 900, updateexpire: 1, size: 256, dmqreplicate: 0 },
    { name: 'MessageCount', dbtable: '', dbmode: 0, expire: 0, updateexpire: 1, size: 256, dmqreplicate: 0 },
  ]);
  h.api.setInt('ipban', '1.2.3.4', 1);
  const stats = (await h.call('htable.stats')) as Array<Record<string, number | string>>;
  assert.deepEqual(stats[0], { name: 'ipban', slots: 256, all: 1, min: 0, max: 1 });
  await h.close();
});

test('expiry: autoexpire, updateexpire, explicit expiry, initval for inc', async () => {
  const h = await setup();
  h.api.setInt('ipban', '10.0.0.1', 1);
  h.tick(299_000);
  assert.deepEqual(h.api.get('ipban', '10.0.0.1'), { type: 'int', value: 1 });
  h.tick(1_000);
  assert.equal(h.api.get('ipban', '10.0.0.1'), undefined, 'expired after autoexpire 300 s');
  assert.deepEqual(await h.call('htable.dump', ['ipban']), []);

  // updateexpire (default on): a set restarts the clock
  h.api.setInt('ipban', '10.0.0.2', 1);
  h.tick(200_000);
  h.api.setInt('ipban', '10.0.0.2', 2);
  h.tick(200_000);
  assert.equal(h.api.get('ipban', '10.0.0.2')?.value, 2);

  // explicit expiry, 0 = never
  h.api.setInt('ipban', 'forever', 1, 0);
  h.api.setInt('ipban', 'short', 1, 5);
  h.tick(6_000);
  assert.equal(h.api.get('ipban', 'short'), undefined);
  h.tick(10_000_000);
  assert.ok(h.api.get('ipban', 'forever'));

  // userban has initval 0: inc starts from it
  assert.equal(h.api.inc('userban', 'alice'), 1);
  assert.equal(h.api.inc('userban', 'alice', 2), 3);
  h.api.setStr('userban', 'bob', 'x');
  assert.equal(h.api.inc('userban', 'bob'), 1, 'a string value restarts from initval');
  assert.deepEqual(h.api.keys('userban', 'al'), ['alice']);
  assert.equal(h.api.delete('userban', 'alice'), true);
  assert.equal(h.api.delete('userban', 'alice'), false);
  await h.close();
});

test('updateexpire off keeps the first expiry', () => {
  const t = new Htable(makeDefinition('t', { autoexpire: 10, updateexpire: false }), 10);
  t.set('k', { type: 'int', value: 1 }, 0);
  t.set('k', { type: 'int', value: 2 }, 9_000);
  assert.equal(t.get('k', 9_999)?.value.value, 2);
  assert.equal(t.get('k', 10_000), undefined);
});

test('cap: a full table evicts the least recently set entry, memory stays bounded', async () => {
  const h = await setup({ maxEntries: 100 });
  for (let i = 0; i < 1000; i++) h.api.setInt('ipban', `10.0.${i >> 8}.${i & 255}`, 1);
  assert.equal(h.api.keys('ipban').length, 100);
  assert.equal(h.api.get('ipban', '10.0.0.0'), undefined);
  assert.ok(h.api.get('ipban', '10.0.3.231'));
  await h.close();
});

test('integers are 32-bit like Kamailio', () => {
  const t = new Htable(makeDefinition('t', {}), 10);
  t.set('k', { type: 'int', value: 2 ** 31 }, 0);
  assert.equal(t.get('k', 0)?.value.value, -(2 ** 31));
});

test('persistence: snapshot keeps values and expiries; restore drops what expired meanwhile', async () => {
  const a = await setup();
  a.api.setInt('ipban', '1.2.3.4', 1); // expires in 300 s
  a.api.setInt('ipban', '5.6.7.8', 1, 10); // expires in 10 s
  a.api.setStr('MessageCount', 'k', 'v');
  assert.equal(a.mod.state!.changed, true);
  const snap = JSON.parse(JSON.stringify(a.mod.state!.snapshot()));
  assert.equal(a.mod.state!.changed, false);
  const expiry = (await a.call('htable.get', ['ipban', '1.2.3.4']) as { item: { expire: string } }).item.expire;
  await a.close();

  const b = await setup();
  b.tick(a.now() - b.now() + 60_000); // restarted one minute later
  b.mod.state!.restore(snap);
  assert.deepEqual(b.api.get('ipban', '1.2.3.4'), { type: 'int', value: 1 });
  assert.equal((await b.call('htable.get', ['ipban', '1.2.3.4']) as { item: { expire: string } }).item.expire, expiry, 'expiry kept, not restarted');
  assert.equal(b.api.get('ipban', '5.6.7.8'), undefined, 'expired while down');
  assert.deepEqual(b.api.get('MessageCount', 'k'), { type: 'str', value: 'v' });
  // garbage is ignored, not fatal
  b.mod.state!.restore({ version: 1, tables: { ipban: [['x'], 5, ['k', 'int', 'nan', 0]], gone: [] } });
  b.mod.state!.restore('nonsense');
  await b.close();
});

test('define: new tables appear, kept tables keep their contents, attributes change', async () => {
  const h = await setup();
  h.api.setInt('ipban', '1.2.3.4', 1);
  h.api.define([makeDefinition('ipban', { autoexpire: 60 }), makeDefinition('userban', { autoexpire: 900, initval: 0 }), makeDefinition('extra', {})]);
  assert.ok(h.api.has('extra'));
  assert.ok(!h.api.has('MessageCount'));
  assert.ok(h.api.get('ipban', '1.2.3.4'));
  h.api.setInt('ipban', 'new', 1);
  h.tick(61_000);
  assert.equal(h.api.get('ipban', 'new'), undefined, 'new autoexpire applies');
  assert.throws(() => h.api.define([makeDefinition('a', {}), makeDefinition('a', {})]), /twice/);
  await h.close();
});

test('makeDefinition validates', () => {
  assert.throws(() => makeDefinition('bad name', {}), /name/);
  assert.throws(() => makeDefinition('t', { autoexpire: -1 }), /autoexpire/);
  assert.throws(() => makeDefinition('t', { size: 40 }), /size/);
  assert.throws(() => makeDefinition('t', { bogus: 1 }), /unknown attribute/);
  assert.throws(() => makeDefinition('t', { dbtable: 'x; DROP TABLE y' }), /dbtable/);
  assert.deepEqual(makeDefinition('t', { autoexpire: '30', updateexpire: 0 }), { name: 't', size: 8, autoexpire: 30, updateexpire: false, replicate: false });
  assert.equal(makeDefinition('t', { replicate: true }).replicate, true);
  assert.throws(() => makeDefinition('t', { replicate: 'sometimes' }), /replicate must be true or false/);
});

test('dbtable: loaded at init and by htable.reload (Kamailio htable schema), swapped in whole', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openDatabase } = await import('../../../src/core/db/database.js');
  const { initSchema } = await import('../../../src/core/db/schema/schema.js');
  const { defineModule } = await import('../../../src/daemon/kernel/module.js');
  const db = await openDatabase(`sqlite://${join(mkdtempSync(join(tmpdir(), 'sipd-htdb-')), 'h.db')}`, { create: true });
  await initSchema(db);
  await db.execute('INSERT INTO htable (key_name, key_type, value_type, key_value, expires) VALUES (?, 0, 1, ?, 0), (?, 0, 0, ?, 0), (?, 1, 0, ?, 0)', ['10.0.0.1', '1', 'note', 'hello', 'arr', 'skipped']);
  const reg = new ModuleRegistry();
  reg.register(defineModule({ name: 'core', params: {}, init() {}, destroy() {}, rpc: {}, api: { database: async () => db } }));
  const mod = createHtableModule({ definitions: [makeDefinition('fromdb', { dbtable: 'htable' })] });
  reg.register(mod);
  await reg.initAll();
  const api = mod.api as HtableModuleApi;
  assert.deepEqual(api.get('fromdb', '10.0.0.1'), { type: 'int', value: 1 });
  assert.deepEqual(api.get('fromdb', 'note'), { type: 'str', value: 'hello' });
  assert.equal(api.get('fromdb', 'arr'), undefined, 'array keys (key_type 1) are not loaded');
  api.setInt('fromdb', 'local', 5);
  await db.execute('DELETE FROM htable WHERE key_name = ?', ['note']);
  assert.equal(await reg.lookup('htable.reload')!.handler(['fromdb']), 'Ok. Htable reloaded (1 entries).');
  assert.deepEqual(api.keys('fromdb'), ['10.0.0.1'], 'the table is what the database holds now');
  assert.deepEqual((await reg.lookup('htable.listTables')!.handler(undefined) as Array<{ dbtable: string }>)[0].dbtable, 'htable');
  await reg.destroyAll();
  await db.close();
});
