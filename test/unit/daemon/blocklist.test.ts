// Blocked destination prefixes (the mtree module): longest-prefix matching, loading from the
// Kamailio mtree table, and the mtree.* RPC methods with Kamailio's shapes and faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { PrefixTree, normaliseNumber } from '../../../src/daemon/modules/mtree/prefix-tree.js';
import { createMtreeModule, type MtreeApi } from '../../../src/daemon/modules/mtree/mtree-module.js';
import { createTestDb } from '../../helpers/db.js';

test('prefix tree: longest prefix wins, visual separators ignored, "+44" and "0044" are different prefixes', () => {
  const t = new PrefixTree([
    { tprefix: '+44', tvalue: 'uk' },
    { tprefix: '+449', tvalue: 'uk premium' },
    { tprefix: '0044', tvalue: 'uk national format' },
    { tprefix: '1900', tvalue: 'us premium' },
  ]);
  assert.deepEqual(t.match('+4420 7946 0000'), { prefix: '+44', value: 'uk' });
  assert.deepEqual(t.match('+44 909-879-0000'), { prefix: '+449', value: 'uk premium' });
  assert.deepEqual(t.match('0044209460000'), { prefix: '0044', value: 'uk national format' });
  assert.equal(t.match('+4930123'), undefined);
  assert.equal(t.match('+4'), undefined);
  assert.equal(t.match(''), undefined);
  assert.deepEqual(t.match('(1900) 555-0100'), { prefix: '1900', value: 'us premium' });
  assert.equal(normaliseNumber('+1 (555) 010-0.1'), '+155501001');
  assert.equal(t.size, 4);
  assert.deepEqual(t.entries().map((e) => e.prefix), ['+44', '+449', '0044', '1900']);
});

test('module: loads the mtree table, skips rows that are not prefixes, RPC list/match/summary/reload like Kamailio', async () => {
  const tdb = await createTestDb('sqlite');
  const db = await tdb.open();
  try {
    await db.execute("INSERT INTO mtree (tprefix, tvalue) VALUES ('+44', 'uk'), ('+881', 'satellite'), ('bad prefix', 'x')");
    const mod = createMtreeModule({ db });
    const reg = new ModuleRegistry();
    reg.register(mod);
    await reg.initAll();
    const api = mod.api as MtreeApi;
    const rpc = (m: string, p?: unknown[]) => reg.lookup(m)!.handler(p);
    assert.deepEqual(api.blocked('+447700900123'), { prefix: '+44', value: 'uk' });
    assert.equal(api.blocked('+4930'), undefined);
    assert.deepEqual(await rpc('mtree.list'), [
      { tname: 'blocked', tprefix: '+44', tvalue: ['uk'] },
      { tname: 'blocked', tprefix: '+881', tvalue: ['satellite'] },
    ]);
    assert.deepEqual(await rpc('mtree.match', ['blocked', '+8816', 0]), { tname: 'blocked', tprefix: '+881', tvalue: 'satellite' });
    await assert.rejects(async () => rpc('mtree.match', ['blocked', '+49', 0]), /Prefix not found/);
    await assert.rejects(async () => rpc('mtree.match', ['other', '+44', 0]), /Tree not found/);
    await assert.rejects(async () => rpc('mtree.match', ['blocked', '+44', 1]), /Invalid parameter 'mode'/);
    await assert.rejects(async () => rpc('mtree.list', ['other']), /Tree not found/);
    // a change in the table shows after mtree.reload (swapped in whole)
    await db.execute("INSERT INTO mtree (tprefix, tvalue) VALUES ('+49900', 'de premium')");
    assert.equal(api.blocked('+49900123'), undefined);
    assert.equal(await rpc('mtree.reload'), null);
    assert.deepEqual(api.blocked('+49900123'), { prefix: '+49900', value: 'de premium' });
    const [summary] = (await rpc('mtree.summary')) as Array<{ table: string; item: { nritems: number; reload_count: number } }>;
    assert.equal(summary.table, 'blocked');
    assert.equal(summary.item.nritems, 3);
    assert.equal(summary.item.reload_count, 2);
    // a failed reload keeps the old tree
    await db.exec('DROP TABLE mtree');
    await assert.rejects(async () => rpc('mtree.reload'), /Mtree Reload Failed/);
    assert.deepEqual(api.blocked('+447700900123'), { prefix: '+44', value: 'uk' });
    await reg.destroyAll();
  } finally {
    await db.close();
    await tdb.drop();
  }
});
