/**
 * OneAtATime (src/core/one-at-a-time.ts): tasks start in the order given, each once the ones
 * before it settled, a failing task does not stop the next, busy and idle() follow the tasks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OneAtATime } from '../../src/core/one-at-a-time.js';

test('tasks run one at a time in the order given; a failure reaches its own caller only', async () => {
  const turns = new OneAtATime();
  const log: string[] = [];
  let running = 0;
  const task = (name: string, fail = false) => async () => {
    running++;
    log.push(`start ${name} (${running} running)`);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };
  assert.equal(turns.busy, false);
  const a = turns.run(task('a'));
  const b = turns.run(task('b', true));
  const c = turns.run(task('c'));
  assert.equal(turns.busy, true);
  assert.deepEqual(log, [], 'nothing starts before the caller has given all its tasks');
  const results = await Promise.allSettled([a, b, c]);
  assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), ['a', 'b', 'c']);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(log, ['start a (1 running)', 'end a', 'start b (1 running)', 'end b', 'start c (1 running)', 'end c']);
  await turns.idle();
  assert.equal(turns.busy, false);
});

test('idle() settles after every task given so far, also a failing one, and never rejects', async () => {
  const turns = new OneAtATime();
  let done = false;
  void turns.run(() => Promise.reject(new Error('no'))).catch(() => undefined);
  void turns.run(async () => {
    await new Promise((r) => setTimeout(r, 5));
    done = true;
  });
  await turns.idle();
  assert.equal(done, true);
  assert.equal(turns.busy, false);
  // a task given after idle() was asked for is not waited for by that promise, but runs next
  const later = turns.run(async () => 'later');
  assert.equal(await later, 'later');
});
