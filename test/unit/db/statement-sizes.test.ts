/**
 * statement-sizes.ts: multi-row statements use row counts from a fixed ladder (powers of two), so
 * the number of distinct statement texts — each a prepared statement cached per connection with
 * its parameter definitions — stays bounded whatever the batch sizes (issue 18).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statementChunks, statementSizes } from '../../../src/core/db/statement-sizes.js';

test('statementSizes: greedy powers of two up to the largest power of two <= max; sums to n', () => {
  assert.deepEqual(statementSizes(0, 256), []);
  assert.deepEqual(statementSizes(1, 256), [1]);
  assert.deepEqual(statementSizes(37, 256), [32, 4, 1]);
  assert.deepEqual(statementSizes(256, 256), [256]);
  assert.deepEqual(statementSizes(600, 250), [128, 128, 128, 128, 64, 16, 8]);
  assert.deepEqual(statementSizes(1100, 512), [512, 512, 64, 8, 4]);
  assert.throws(() => statementSizes(-1, 8), /bad row count/);
  assert.throws(() => statementSizes(3, 0), /bad maximum/);
});

test('every batch size from 0 to 2,000 uses only log2(max) + 1 distinct row counts', () => {
  const seen = new Set<number>();
  for (let n = 0; n <= 2000; n++) {
    const sizes = statementSizes(n, 256);
    assert.equal(sizes.reduce((a, b) => a + b, 0), n);
    for (const s of sizes) seen.add(s);
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

test('statementChunks: the rows in order, cut at those sizes', () => {
  const rows = Array.from({ length: 11 }, (_, i) => i);
  const chunks = statementChunks(rows, 4);
  assert.deepEqual(chunks.map((c) => c.length), [4, 4, 2, 1]);
  assert.deepEqual(chunks.flat(), rows);
});
