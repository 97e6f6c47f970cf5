/**
 * sipd's answers to the RPC methods of issue 12's "registrations and the running proxy" commands,
 * compared with what Kamailio 5.6 answered (test/fixtures/kamailio/recorded/jsonrpc_issue12_runtime.txt):
 * ul.add / ul.rm_contact (usrloc, memory and write-through on SQLite), pv.shvGet / pv.shvSet (pv),
 * htable.setex, stats.fetch and core.psx.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { RpcFault } from '../../../src/daemon/kernel/rpc-fault.js';
import type { Logger, SipdModule } from '../../../src/daemon/kernel/module.js';
import { createUsrlocModule } from '../../../src/daemon/modules/usrloc/usrloc-module.js';
import { createPvModule, parseShvset } from '../../../src/daemon/modules/pv/pv-module.js';
import { createStatsModule } from '../../../src/daemon/modules/stats/stats-module.js';
import { createHtableModule } from '../../../src/daemon/modules/htable/htable-module.js';
import { DEFAULT_HTABLES, makeDefinition } from '../../../src/daemon/modules/htable/htable.js';
import { createCoreModule } from '../../../src/daemon/modules/core/core-module.js';
import { createTestDb } from '../../helpers/db.js';
import { LAB_RECORDED } from '../../helpers/kamailio.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error(m, f) { if (process.env.DEBUG_T) console.error(m, f); } };

/** Kamailio's reply to `METHOD PARAMS` in the recording (first match). */
function kamailio(method: string, params: unknown): { result?: any; error?: { code: number; message: string } } {
  const text = readFileSync(path.join(LAB_RECORDED, 'jsonrpc_issue12_runtime.txt'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${method} ${params === undefined ? 'undefined' : JSON.stringify(params)} => `));
  assert.ok(line, `${method} ${JSON.stringify(params)} not recorded`);
  return JSON.parse(line.slice(line.indexOf(' => ') + 4));
}

async function setup(mods: SipdModule[], params: Record<string, Record<string, unknown>> = {}) {
  const reg = new ModuleRegistry();
  for (const m of mods) reg.register(m as never);
  const clock = { ms: Date.UTC(2026, 11, 6, 21, 0, 0) };
  await reg.initAll({ params: new Map(Object.entries(params)), log: quiet, now: () => clock.ms });
  const call = async (method: string, p?: unknown) => reg.lookup(method)!.handler(p as never);
  const answer = async (method: string, p?: unknown): Promise<{ result?: any; error?: { code: number; message: string } }> => {
    try {
      return { result: await call(method, p) };
    } catch (e) {
      assert.ok(e instanceof RpcFault, `expected RpcFault, got ${String(e)}`);
      return { error: { code: e.code, message: e.message } };
    }
  };
  return { reg, clock, call, answer };
}

const strip = (r: { result?: unknown; error?: unknown }) => (r.error ? { error: r.error } : { result: r.result });

describe('usrloc ul.add / ul.rm_contact', () => {
  test('same answers as Kamailio: add (update on the same contact), lookup order and shape, 404s of rm_contact, the 500 for missing parameters', async () => {
    const { answer, reg } = await setup([createUsrlocModule()], { usrloc: { db_mode: 0 } });
    try {
      for (const p of [['location', 'alice', 'sip:alice@192.0.2.1:5060', 3600, 0.5, '0', 0, 0, 0], ['location', 'alice', 'sip:alice@192.0.2.2:5060', 0, 1, '0', 0, 0, 0]]) {
        assert.deepEqual(await answer('ul.add', p), strip(kamailio('ul.add', p)));
      }
      // the same contact again updates it, never a second binding
      assert.deepEqual(await answer('ul.add', ['location', 'alice', 'sip:alice@192.0.2.2:5060', 0, 1, '0', 0, 0, 0]), { result: {} });
      const mine = (await answer('ul.lookup', ['location', 'alice'])).result;
      const theirs = kamailio('ul.lookup', ['location', 'alice']).result;
      const key = (c: any) => [c.Contact.Address, c.Contact.Expires, c.Contact.Q, Object.keys(c.Contact).sort().join()];
      assert.deepEqual(mine.Contacts.map(key), theirs.Contacts.map(key));
      for (const p of [['location', 'alice', 'sip:alice@192.0.2.9'], ['location', 'bob', 'sip:alice@192.0.2.9'], ['location', 'alice', 'sip:alice@192.0.2.1:5060']]) {
        assert.deepEqual(await answer('ul.rm_contact', p), strip(kamailio('ul.rm_contact', p)), JSON.stringify(p));
      }
      const bad = ['location', 'alice', 'sip:x@y', 10];
      assert.deepEqual(await answer('ul.add', bad), strip(kamailio('ul.add', bad)));
      assert.deepEqual((await answer('ul.add', ['nosuch', 'alice', 'sip:x@y', 10, 1, '0', 0, 0, 0])).error, { code: 500, message: 'Domain not found' });
      // path "0" is no path (Kamailio), any other value is kept
      assert.deepEqual(await answer('ul.add', ['location', 'bob', 'sip:bob@1.2.3.4', 60, -1, '<sip:p1>', 0, 0, 0]), { result: {} });
      const bob = (await answer('ul.lookup', ['location', 'bob'])).result.Contacts[0].Contact;
      assert.equal(bob.Path, '<sip:p1>');
      assert.equal(bob.Q, -1);
      assert.equal(bob.Expires, 60);
      assert.equal((await answer('ul.rm_contact', ['location', 'bob', 'sip:bob@1.2.3.4'])).result !== undefined, true);
      // the last contact gone, the AoR is gone (Kamailio: ul.lookup 500 "AOR not found in location table")
      assert.deepEqual(await answer('ul.lookup', ['location', 'bob']), strip(kamailio('ul.lookup', ['location', 'bob'])));
    } finally {
      await reg.destroyAll();
    }
  });

  test('write-through: what ul.add stores is in the location table and comes back after a restart; rm_contact deletes the row', async () => {
    const t = await createTestDb('sqlite');
    try {
      const db = await t.open();
      try {
        const first = await setup([createUsrlocModule({ db })], { usrloc: { db_mode: 1 } });
        await first.call('ul.add', ['location', 'carol', 'sip:carol@192.0.2.5', 0, 0.7, '0', 0, 0, 0]);
        await first.call('ul.add', ['location', 'carol', 'sip:carol@192.0.2.6', 600, 1, '0', 0, 0, 0]);
        const rows = await db.query<{ contact: string; q: number }>('SELECT contact, q FROM location WHERE username = ? ORDER BY contact', ['carol']);
        assert.deepEqual(rows.map((r) => [r.contact, Number(r.q)]), [['sip:carol@192.0.2.5', 0.7], ['sip:carol@192.0.2.6', 1]]);
        await first.call('ul.rm_contact', ['location', 'carol', 'sip:carol@192.0.2.6']);
        await first.reg.destroyAll();
        const second = await setup([createUsrlocModule({ db })], { usrloc: { db_mode: 1 } });
        try {
          const c = (await second.call('ul.lookup', ['location', 'carol'])) as any;
          assert.deepEqual(c.Contacts.map((x: any) => [x.Contact.Address, x.Contact.Expires, x.Contact.Q]), [['sip:carol@192.0.2.5', 'permanent', 0.7]]);
        } finally {
          await second.reg.destroyAll();
        }
      } finally {
        await db.close();
      }
    } finally {
      await t.drop();
    }
  });
});

describe('pv shared variables', () => {
  test('pv.shvGet / pv.shvSet answer as Kamailio did; int values that are not integers are refused (Kamailio stores 0)', async () => {
    const { answer, reg } = await setup([createPvModule()], { pv: { shvset: 'maint=i:0,motd=s:hello' } });
    try {
      assert.deepEqual(await answer('pv.shvGet', ['maint']), strip(kamailio('pv.shvGet', ['maint'])));
      assert.deepEqual(await answer('pv.shvGet', ['nosuch']), strip(kamailio('pv.shvGet', ['nosuch'])));
      for (const p of [['maint', 'int', 5], ['motd', 'str', 'bye'], ['newvar', 'int', 5], ['maint', 'bad', 5]]) {
        assert.deepEqual(await answer('pv.shvSet', p), strip(kamailio('pv.shvSet', p)), JSON.stringify(p));
      }
      assert.deepEqual((await answer('pv.shvGet', ['maint'])).result, { name: 'maint', type: 'int', value: 5 });
      assert.deepEqual((await answer('pv.shvGet', ['motd'])).result, { name: 'motd', type: 'string', value: 'bye' });
      const refused = await answer('pv.shvSet', ['maint', 'int', 'x']);
      assert.equal(refused.error?.code, -32602);
      assert.equal((await answer('pv.shvGet', ['maint'])).result.value, 5);
      // every variable: what JSON can carry (Kamailio repeats the key "shv")
      assert.deepEqual((await answer('pv.shvGet')).result, { items: { shv: [{ name: 'maint', type: 'int', value: 5 }, { name: 'motd', type: 'string', value: 'bye' }] } });
    } finally {
      await reg.destroyAll();
    }
    const none = await setup([createPvModule()]);
    assert.deepEqual(await none.answer('pv.shvGet'), strip(kamailio('pv.shvGet', undefined)).result ? { result: { items: {} } } : assert.fail());
    await none.reg.destroyAll();
  });

  test('shvset is checked at start: a bad entry is a config error naming it', () => {
    assert.deepEqual([...parseShvset(' a=i:-3 , b=s:x y ,c=s:')], [['a', { type: 'int', value: -3 }], ['b', { type: 'str', value: 'x y' }], ['c', { type: 'str', value: '' }]]);
    for (const bad of ['a', 'a=x:1', 'a=i:1.5', 'a=i:99999999999', 'b c=i:1']) assert.throws(() => parseShvset(bad), /pv\.shvset: /, bad);
  });
});

describe('htable.setex, stats.fetch, core.psx', () => {
  test('htable.setex: "Ok" also for a missing key (nothing set), a new expiry for an existing one, 0 = never', async () => {
    const { answer, call, clock, reg } = await setup([createHtableModule({ definitions: Object.entries(DEFAULT_HTABLES).map(([n, a]) => makeDefinition(n, a)) })]);
    try {
      await call('htable.sets', ['ipban', '1.2.3.4', 'x']);
      assert.deepEqual(await answer('htable.setex', ['ipban', '1.2.3.4', 60]), strip(kamailio('htable.setex', ['ipban', '1.2.3.4', 60])));
      assert.deepEqual(await answer('htable.setex', ['ipban', 'nokey', 60]), strip(kamailio('htable.setex', ['ipban', 'nokey', 60])));
      assert.deepEqual(await answer('htable.setex', ['nosuch', 'k', 60]), strip(kamailio('htable.setex', ['nosuch', 'k', 60])));
      assert.equal((await answer('htable.get', ['ipban', 'nokey'])).error?.message, "Key name doesn't exist in htable.");
      clock.ms += 59_000;
      assert.equal((await answer('htable.get', ['ipban', '1.2.3.4'])).result.item.value, 'x');
      clock.ms += 2_000;
      assert.ok((await answer('htable.get', ['ipban', '1.2.3.4'])).error, 'expired after 60 s');
      await call('htable.sets', ['ipban', '1.2.3.5', 'y']);
      await call('htable.setex', ['ipban', '1.2.3.5', 0]);
      assert.equal((await answer('htable.get', ['ipban', '1.2.3.5'])).result.item.expire, 'NEVER');
      const stats = (await answer('htable.stats')).result as Array<Record<string, unknown>>;
      assert.deepEqual(Object.keys(stats[0]!).sort(), Object.keys(kamailio('htable.stats', undefined).result[0]).sort());
    } finally {
      await reg.destroyAll();
    }
  });

  test('stats.fetch: one object "group.name" → value as a string, as kex answers', async () => {
    const mod = createStatsModule();
    const { answer, reg } = await setup([mod]);
    try {
      mod.api!.inc('core:rcv_requests', 27);
      assert.deepEqual(await answer('stats.fetch', ['rcv_requests']), strip(kamailio('stats.fetch', ['rcv_requests'])));
      mod.api!.gauge('usrloc:registered_users', () => 1);
      const r = (await answer('stats.fetch', ['usrloc:'])).result;
      assert.deepEqual(r, { 'usrloc.registered_users': '1' });
      assert.deepEqual((await answer('stats.fetch')).error, { code: 400, message: 'Please provide which stats to retrieve' });
    } finally {
      await reg.destroyAll();
    }
  });

  test('core.psx: one row, this process, in Kamailio\'s IDX/PID/DSC shape', async () => {
    const deps = { version: '0.0.0', startedAt: Date.now(), database: () => undefined, securityEvent() {}, isMyself: () => false, domains: () => [], stateDir: '/nonexistent' };
    const { answer, reg } = await setup([createCoreModule(deps as never)]);
    try {
      const rows = (await answer('core.psx')).result as Array<{ IDX: number; PID: number; DSC: string }>;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.PID, process.pid);
      assert.deepEqual(Object.keys(rows[0]!), Object.keys(kamailio('core.psx', undefined).result[0]));
    } finally {
      await reg.destroyAll();
    }
  });
});
