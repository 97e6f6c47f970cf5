import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll } from '../../src/core/close-all.js';

test('closeAll closes every one even when some fail, then throws the one failure as it is or names several', async () => {
  const closed: string[] = [];
  const ok = (n: string) => async () => void closed.push(n);
  const bad = (n: string) => async () => {
    closed.push(n);
    throw new Error(`${n} failed`);
  };
  await closeAll([ok('a'), ok('b')]);
  assert.deepEqual(closed.splice(0), ['a', 'b']);

  const one = new Error('b failed');
  await assert.rejects(closeAll([ok('a'), async () => { closed.push('b'); throw one; }, ok('c')]), (e) => e === one);
  assert.deepEqual(closed.splice(0), ['a', 'b', 'c']);

  await assert.rejects(closeAll([bad('a'), ok('b'), bad('c')]), { code: 'CLOSE_FAILED', message: '2 connections did not close cleanly: a failed; c failed' });
  assert.deepEqual(closed.splice(0), ['a', 'b', 'c']);

  // a closer that throws before returning a promise is a failure like the others
  await assert.rejects(closeAll([() => { throw new Error('sync'); }, ok('d')]), { message: 'sync' });
  assert.deepEqual(closed.splice(0), ['d']);
});
