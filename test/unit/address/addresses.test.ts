import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addAddress, listAddresses, removeAddress, validateAddress } from '../../../src/core/address/addresses.js';
import { isSipctlError } from '../../../src/core/errors.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

function fails(category: string, code?: string) {
  return (e: unknown) => isSipctlError(e) && e.category === category && (code === undefined || e.code === code);
}

test('validateAddress: kamctl defaults and every range', () => {
  assert.deepEqual(validateAddress({ grp: '200', ip: '10.0.1.102' }), { grp: 200, ip: '10.0.1.102', mask: 32, port: 0, tag: null });
  assert.deepEqual(validateAddress({ grp: 1, ip: '2001:DB8::1' }), { grp: 1, ip: '2001:db8::1', mask: 128, port: 0, tag: null });
  assert.deepEqual(validateAddress({ grp: '1', ip: '10.1.0.0', mask: '16', port: '5060', tag: 'net' }), { grp: 1, ip: '10.1.0.0', mask: 16, port: 5060, tag: 'net' });
  assert.throws(() => validateAddress({ grp: '-1', ip: '1.1.1.1' }), fails('usage', 'INVALID_GROUP'));
  assert.throws(() => validateAddress({ grp: 'abc', ip: '1.1.1.1' }), fails('usage', 'INVALID_GROUP'));
  assert.throws(() => validateAddress({ grp: '4294967296', ip: '1.1.1.1' }), fails('usage', 'INVALID_GROUP'));
  assert.throws(() => validateAddress({ grp: '1', ip: '1.1.1.1', mask: '33' }), fails('usage', 'INVALID_MASK'));
  assert.throws(() => validateAddress({ grp: '1', ip: '::1', mask: '129' }), fails('usage', 'INVALID_MASK'));
  assert.doesNotThrow(() => validateAddress({ grp: '1', ip: '::1', mask: '64' }));
  assert.throws(() => validateAddress({ grp: '1', ip: '1.1.1.1', port: '65536' }), fails('usage', 'INVALID_PORT'));
  assert.throws(() => validateAddress({ grp: '1', ip: '1.1.1.1', port: '-1' }), fails('usage', 'INVALID_PORT'));
  assert.throws(() => validateAddress({ grp: '1', ip: '1.1.1.1', tag: 'x'.repeat(65) }), fails('usage', 'INVALID_TAG'));
  assert.throws(() => validateAddress({ grp: '1', ip: '1.1.1.1', tag: 'a\u001bb' }), fails('usage', 'INVALID_TAG'));
});

forEachEngine('address table', (engine, track) => {
  test('add, duplicate = conflict, dry run writes nothing, rm, rm of missing = not found', async () => {
    const t = track(await createTestDb(engine));
    const db = await t.open();
    try {
      const a = await addAddress(db, { grp: '200', ip: '10.0.1.102', mask: '32', port: '5060', tag: 'Carrier IP address' });
      assert.equal(a.dryRun, false);
      await assert.rejects(addAddress(db, { grp: 200, ip: '10.0.1.102', port: 5060 }), fails('conflict', 'ADDRESS_EXISTS'));
      // another port is another entry; the same IPv6 in another spelling is the same entry
      await addAddress(db, { grp: 200, ip: '10.0.1.102', port: 5061 });
      await addAddress(db, { grp: 7, ip: '2001:db8::1' });
      await assert.rejects(addAddress(db, { grp: 7, ip: '2001:DB8:0::1' }), fails('conflict'));
      const dry = await addAddress(db, { grp: 9, ip: '192.0.2.1' }, { dryRun: true });
      assert.equal(dry.dryRun, true);
      assert.equal((await listAddresses(db, { group: 9 })).length, 0);

      const rows = await listAddresses(db);
      assert.deepEqual(rows.map((r) => [r.grp, r.ip, r.mask, r.port, r.tag]), [
        [7, '2001:db8::1', 128, 0, null],
        [200, '10.0.1.102', 32, 5060, 'Carrier IP address'],
        [200, '10.0.1.102', 32, 5061, null],
      ]);

      const narrowed = await removeAddress(db, 200, '10.0.1.102', { port: 5061 });
      assert.equal(narrowed.entries.length, 1);
      const all = await removeAddress(db, '200', '10.0.1.102');
      assert.equal(all.entries.length, 1);
      await assert.rejects(removeAddress(db, 200, '10.0.1.102'), fails('not-found', 'ADDRESS_NOT_FOUND'));
      await assert.rejects(removeAddress(db, 200, 'not-an-ip'), fails('usage'));
      const dryRm = await removeAddress(db, 7, '2001:0db8::0001', { dryRun: true });
      assert.equal(dryRm.entries.length, 1);
      assert.equal((await listAddresses(db, { group: 7 })).length, 1);
    } finally {
      await db.close();
    }
  });

  test('a database without the schema is a schema error (exit 9), nothing written', async () => {
    const t = track(await createTestDb(engine, { init: false }));
    const db = await t.open();
    try {
      await assert.rejects(addAddress(db, { grp: 1, ip: '10.0.0.1' }), fails('schema'));
    } finally {
      await db.close();
    }
  });
});
