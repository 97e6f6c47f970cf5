// bench/ is not part of the build, so nothing else notices when a bench stops compiling against
// the code and test helpers it imports (calls-bench once imported a helper that had been removed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../../helpers/cli.js';

test('every bench type-checks against the current code (tsconfig.bench.json)', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO, 'tsconfig.bench.json')], { encoding: 'utf8', timeout: 300_000 });
  const benchErrors = (r.stdout + r.stderr).split('\n').filter((l) => l.startsWith('bench/'));
  assert.deepEqual(benchErrors, [], benchErrors.join('\n'));
  assert.equal(r.status, 0, (r.stdout + r.stderr).slice(0, 3000));
});
