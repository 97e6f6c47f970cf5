/**
 * The permissions module against real databases: CIDR, port and group matching for IPv4 and
 * IPv6, reloads, and permissions.addressDump / subnetDump / addressReload compared with what
 * Kamailio 5.6 answered in the reference lab (outputs/jsonrpc_http.txt).
 */
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Database } from '../../../src/core/db/database.js';
import { flattenAddressDump } from '../../../src/core/rpc/methods.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { RpcFault } from '../../../src/daemon/kernel/rpc-fault.js';
import type { Logger } from '../../../src/daemon/kernel/module.js';
import { coreHash } from '../../../src/daemon/kernel/kamailio-hash.js';
import { formatIp, parseIp } from '../../../src/daemon/modules/permissions/ip.js';
import { createPermissionsModule, type PermissionsModuleApi } from '../../../src/daemon/modules/permissions/permissions-module.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import { LAB_RECORDED } from '../../helpers/kamailio.js';

/** The JSON-RPC result Kamailio sent for section "### [n] title" of jsonrpc_http.txt. */
function recordedResult(title: string): unknown {
  const text = readFileSync(path.join(LAB_RECORDED, 'jsonrpc_http.txt'), 'utf8');
  const start = text.indexOf(`] ${title}\n`);
  assert.ok(start > 0, `section ${title} not recorded`);
  const headers = text.indexOf('--- response', start);
  const body = text.slice(text.indexOf('\n\n', headers), text.indexOf('--- curl exit', start));
  return (JSON.parse(body) as { result: unknown }).result;
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

async function start(db: Database, params: Record<string, unknown> = {}) {
  const mod = createPermissionsModule({ db });
  const reg = new ModuleRegistry();
  reg.register(mod);
  await reg.initAll({ params: new Map([['permissions', params]]), log: quiet });
  const call = async (method: string, p?: unknown[]) => reg.lookup(method)!.handler(p);
  return { api: mod.api as PermissionsModuleApi, reg, call };
}

async function addRow(db: Database, grp: number, ip: string, mask: number, port: number, tag: string | null): Promise<void> {
  await db.execute('INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (?, ?, ?, ?, ?)', [grp, ip, mask, port, tag]);
}

describe('address hashing and formatting as Kamailio', () => {
  test('the bucket of 10.0.1.102 is 96, as recorded (core_hash over the 4 address bytes, 128 buckets)', () => {
    assert.equal(coreHash(parseIp('10.0.1.102')!.bytes, 128), 96);
  });

  test('IPv6 prints as ip6tosbuf does: upper-case, no leading zeros, no "::"', () => {
    assert.equal(formatIp(parseIp('2001:db8::1')!), '2001:DB8:0:0:0:0:0:1');
    assert.equal(formatIp(parseIp('::')!), '0:0:0:0:0:0:0:0');
    assert.equal(formatIp(parseIp('fe80::a:b:c:d')!), 'FE80:0:0:0:A:B:C:D');
    assert.equal(formatIp(parseIp('64:ff9b::192.0.2.33')!), '64:FF9B:0:0:0:0:C000:221');
  });

  test('parsing refuses what is not an address; IPv4-mapped IPv6 reads as IPv4', () => {
    for (const bad of ['', '1.2.3', '1.2.3.256', 'fe80::1%eth0', 'example.com', '::1::2', '1.2.3.4/24']) assert.equal(parseIp(bad), undefined, bad);
    assert.deepEqual(parseIp('::ffff:192.0.2.1'), parseIp('192.0.2.1'));
  });
});

forEachEngine('permissions module', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => {
    await db?.close();
  });

  test('the lab row gives exactly what Kamailio answered to addressReload, addressDump and subnetDump', async () => {
    await db.execute('DELETE FROM address');
    await addRow(db, 200, '10.0.1.102', 32, 5060, 'Carrier IP address');
    const { call, reg } = await start(db);
    try {
      assert.equal(await call('permissions.addressReload'), recordedResult('permissions.addressReload'));
      assert.deepEqual(await call('permissions.addressDump'), recordedResult('permissions.addressDump'));
      assert.deepEqual(await call('permissions.subnetDump'), recordedResult('permissions.subnetDump (empty)'));
      assert.deepEqual(flattenAddressDump((await call('permissions.addressDump')) as never), [{ group: 200, ip: '10.0.1.102', port: 5060, tag: 'Carrier IP address' }]);
    } finally {
      await reg.destroyAll();
    }
  });

  test('IPv4: exact addresses with and without port, subnets, groups, 0.0.0.0/0, mapped addresses', async () => {
    await db.execute('DELETE FROM address');
    await addRow(db, 1, '192.168.1.0', 24, 0, 'lan');
    await addRow(db, 1, '10.0.0.5', 32, 5060, 'pbx');
    await addRow(db, 2, '10.0.0.0', 8, 0, null);
    await addRow(db, 3, '203.0.113.7', 32, 0, null);
    await addRow(db, 4, '0.0.0.0', 0, 5080, 'any host, one port');
    const { api, reg } = await start(db);
    try {
      assert.equal(api.allowSource(1, '192.168.1.77', 40000), true);
      assert.equal(api.allowSource(1, '192.168.1.255', 1), true);
      assert.equal(api.allowSource(1, '192.168.2.1', 5060), false);
      assert.equal(api.allowSource(1, '10.0.0.5', 5060), true);
      assert.equal(api.allowSource(1, '10.0.0.5', 5061), false, 'port given in the row must match');
      assert.equal(api.allowSource(1, '10.0.0.5'), false, 'no port: only rows for any port (0) match');
      assert.equal(api.allowSource(2, '10.0.0.5', 5061), true);
      assert.equal(api.allowSource(2, '11.0.0.5', 5061), false);
      assert.equal(api.allowSource(3, '203.0.113.7', 1), true);
      assert.equal(api.allowSource(3, '203.0.113.8', 1), false);
      assert.equal(api.allowSource(4, '198.51.100.1', 5080), true);
      assert.equal(api.allowSource(4, '198.51.100.1', 5060), false);
      assert.equal(api.allowSource(9, '10.0.0.5', 5060), false, 'unknown group');
      assert.equal(api.allowSource(1, '::ffff:192.168.1.9', 5060), true, 'a dual-stack socket reports IPv4 peers mapped');
      assert.equal(api.allowSource(1, 'not-an-ip', 5060), false);
      assert.deepEqual(api.groupsOf('10.0.0.5', 5060), [1, 2]);
      assert.deepEqual(api.groupsOf('10.0.0.5', 5080), [2, 4]);
      assert.deepEqual(api.groupsOf('8.8.8.8', 5060), []);
      assert.equal(api.tagOf(1, '10.0.0.5', 5060), 'pbx');
      assert.equal(api.tagOf(2, '10.0.0.5', 5060), null);
      assert.equal(api.tagOf(3, '10.0.0.5', 5060), undefined);
    } finally {
      await reg.destroyAll();
    }
  });

  test('IPv6: prefixes at any bit, other spellings of the same address, no cross-family matches', async () => {
    await db.execute('DELETE FROM address');
    await addRow(db, 5, '2001:db8::', 32, 0, null);
    await addRow(db, 6, '2001:db8::1', 128, 5060, 'v6host');
    await addRow(db, 7, 'fd00:1234:5678::', 47, 0, 'odd prefix');
    const { api, reg, call } = await start(db);
    try {
      assert.equal(api.allowSource(5, '2001:db8:ffff::1', 1), true);
      assert.equal(api.allowSource(5, '2001:db9::1', 1), false);
      assert.equal(api.allowSource(6, '2001:0db8:0:0:0:0:0:0001', 5060), true, 'another spelling of the same address');
      assert.equal(api.allowSource(6, '2001:db8::1', 5061), false);
      assert.equal(api.allowSource(7, 'fd00:1234:5679:ffff::1', 1), true, 'bit 47 is still inside the prefix');
      assert.equal(api.allowSource(7, 'fd00:1234:567a::1', 1), false, 'bit 47 differs');
      // 32.1.13.184 has the same first four bytes as 2001:db8:: — families never match each other
      assert.equal(api.allowSource(5, '32.1.13.184', 1), false);
      assert.deepEqual(await call('permissions.addressDump'), [
        { table: coreHash(parseIp('2001:db8::1')!.bytes.subarray(0, 4), 128), group: 6, item: { ip: '2001:DB8:0:0:0:0:0:1', port: 5060, tag: 'v6host' } },
      ]);
      assert.deepEqual(await call('permissions.subnetDump'), [
        { id: 0, group: 5, item: { ip: '2001:DB8:0:0:0:0:0:0', mask: 32, port: 0, tag: '' } },
        { id: 1, group: 7, item: { ip: 'FD00:1234:5678:0:0:0:0:0', mask: 47, port: 0, tag: 'odd prefix' } },
      ]);
    } finally {
      await reg.destroyAll();
    }
  });

  test('dump order and shapes follow Kamailio: buckets ascending, newest first in a bucket; subnets by group; NULL / "" tags', async () => {
    await db.execute('DELETE FROM address');
    await addRow(db, 30, '172.16.0.0', 12, 0, null);
    await addRow(db, 10, '192.0.2.0', 24, 5060, 'ten-a');
    await addRow(db, 20, '198.51.100.1', 32, 0, '');
    await addRow(db, 10, '198.51.100.0', 24, 0, 'ten-b');
    await addRow(db, 20, '198.51.100.1', 32, 5060, 'same address again');
    const { reg, call } = await start(db);
    try {
      const subnets = (await call('permissions.subnetDump')) as Array<{ id: number; group: number; item: { ip: string; tag: string } }>;
      assert.deepEqual(subnets.map((s) => [s.id, s.group, s.item.ip, s.item.tag]), [
        [0, 10, '192.0.2.0', 'ten-a'],
        [1, 10, '198.51.100.0', 'ten-b'],
        [2, 30, '172.16.0.0', ''],
      ]);
      const addresses = (await call('permissions.addressDump')) as Array<{ table: number; group: number; item: { ip: string; port: number; tag: string } }>;
      assert.deepEqual(addresses.map((a) => [a.group, a.item.port, a.item.tag]), [[20, 5060, 'same address again'], [20, 0, 'NULL']], 'newest first; empty tag prints NULL');
      assert.equal(addresses[0].table, coreHash(parseIp('198.51.100.1')!.bytes, 128));
      assert.deepEqual(Object.keys(addresses[0]), ['table', 'group', 'item']);
      assert.deepEqual(Object.keys(addresses[0].item), ['ip', 'port', 'tag']);
      assert.deepEqual(Object.keys(subnets[0]), ['id', 'group', 'item']);
      assert.deepEqual(Object.keys(subnets[0].item), ['ip', 'mask', 'port', 'tag']);
    } finally {
      await reg.destroyAll();
    }
  });

  test('addressReload picks up database changes; a bad row fails the reload and keeps the previous table', async () => {
    await db.execute('DELETE FROM address');
    await addRow(db, 1, '192.0.2.10', 32, 0, null);
    const { api, reg, call } = await start(db);
    try {
      await addRow(db, 1, '192.0.2.11', 32, 0, null);
      assert.equal(api.allowSource(1, '192.0.2.11', 5060), false, 'not before a reload');
      assert.equal(await call('permissions.addressReload'), 'Reload OK');
      assert.equal(api.allowSource(1, '192.0.2.11', 5060), true);
      await db.execute('DELETE FROM address WHERE ip_addr = ?', ['192.0.2.10']);
      await api.reload();
      assert.equal(api.allowSource(1, '192.0.2.10', 5060), false, 'removed rows are gone after reload');

      await addRow(db, 1, '192.0.2.12', 40, 0, 'mask too long for IPv4');
      await assert.rejects(call('permissions.addressReload'), (e: unknown) => {
        assert.ok(e instanceof RpcFault);
        assert.deepEqual([e.code, e.message], [500, 'Reload failed.']);
        return true;
      });
      assert.equal(api.allowSource(1, '192.0.2.11', 5060), true, 'previous table still in force');
      await db.execute('DELETE FROM address WHERE mask = 40');

      await addRow(db, 8, 'gw.example.com', 32, 0, 'host name');
      assert.equal(await call('permissions.addressReload'), 'Reload OK', 'host-name rows are skipped, not fatal');
      assert.deepEqual(api.groupsOf('192.0.2.11', 1), [1]);
    } finally {
      await reg.destroyAll();
    }
  });

  test('back-to-back and concurrent reloads all succeed (Kamailio would answer 500 "ongoing reload"), and the last sees the last change', async () => {
    await db.execute('DELETE FROM address');
    const { api, reg, call } = await start(db);
    try {
      assert.equal(await call('permissions.addressReload'), 'Reload OK');
      assert.equal(await call('permissions.addressReload'), 'Reload OK');
      const first = call('permissions.addressReload');
      await addRow(db, 1, '192.0.2.99', 32, 0, null);
      const second = call('permissions.addressReload');
      const third = call('permissions.addressReload');
      assert.deepEqual(await Promise.all([first, second, third]), ['Reload OK', 'Reload OK', 'Reload OK']);
      assert.equal(api.allowSource(1, '192.0.2.99', 1), true);
    } finally {
      await reg.destroyAll();
    }
  });

  test('reload_interval reloads on a timer', async (t) => {
    await db.execute('DELETE FROM address');
    t.mock.timers.enable({ apis: ['setInterval'] });
    const { api, reg } = await start(db, { reload_interval: 30 });
    try {
      await addRow(db, 1, '192.0.2.50', 32, 0, null);
      t.mock.timers.tick(30_000);
      // the reload the tick started reads the table: on MariaDB, on a loaded machine, that takes
      // longer than a couple of hundred event-loop turns (setTimeout is not mocked here)
      for (let i = 0; i < 1000 && !api.allowSource(1, '192.0.2.50', 1); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(api.allowSource(1, '192.0.2.50', 1), true);
    } finally {
      await reg.destroyAll();
      mock.timers.reset();
    }
  });

  test('max_subnets bounds the subnet list; a table name that is not an identifier is refused', async () => {
    await db.execute('DELETE FROM address');
    for (let i = 0; i < 3; i++) await addRow(db, 1, `10.${i}.0.0`, 16, 0, null);
    await assert.rejects(start(db, { max_subnets: 2 }), /more than 2 subnet rows/);
    await assert.rejects(start(db, { address_table: 'address; DROP TABLE address' }), /not a plain table name/);
  });
});
