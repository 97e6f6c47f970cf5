import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerExecArgv } from '../../../src/daemon/workers.js';

test('workers start with a young-generation floor after the primary\'s own Node.js options', () => {
  assert.deepEqual(workerExecArgv([]), ['--min-semi-space-size=16']);
  assert.deepEqual(workerExecArgv(['--cpu-prof', '--cpu-prof-dir', '/tmp/p']), ['--cpu-prof', '--cpu-prof-dir', '/tmp/p', '--min-semi-space-size=16']);
});

test('an operator\'s own --min-semi-space-size wins, in any spelling V8 takes', () => {
  for (const given of [['--min-semi-space-size=4'], ['--min_semi_space_size=64'], ['--min-semi-space-size', '8']]) {
    assert.deepEqual(workerExecArgv(given), given);
  }
  // other semi-space options do not count as a floor
  assert.deepEqual(workerExecArgv(['--max-semi-space-size=32']), ['--max-semi-space-size=32', '--min-semi-space-size=16']);
});
