// test/ and bench/ are run by tsx and never compiled, which strips types without checking them:
// a test could pass an argument no function takes, or a helper change leave a caller behind,
// and nothing would say so (bench/calls-bench once imported a helper that had been removed). This
// runs the type check `npm run lint` does for them (test/tsconfig.json), so such an error fails CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../../helpers/cli.js';

test('every test and bench type-checks against the current code (test/tsconfig.json)', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO, 'test', 'tsconfig.json')], { encoding: 'utf8', timeout: 300_000 });
  const errors = (r.stdout + r.stderr).split('\n').filter((l) => / error TS\d+:/.test(l));
  assert.deepEqual(errors, [], errors.join('\n'));
  assert.equal(r.status, 0, (r.stdout + r.stderr).slice(0, 3000));
});
