/**
 * bin/sipd.js run as `sipd` (npm's bin link, the systemd unit's `exec sipd`): its shebang starts
 * Node.js with SIPD_NODE_FLAGS, the young-generation floor that NODE_OPTIONS cannot carry
 * (src/core/daemon/node-flags.ts says why: fewer young-generation collections when the CPU is short).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SIPD_NODE_FLAGS } from '../../src/core/daemon/node-flags.js';
import { assertFreshBuild } from '../helpers/build.js';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'sipd.js');

test('the shebang of bin/sipd.js names exactly SIPD_NODE_FLAGS', () => {
  assert.equal(readFileSync(BIN, 'utf8').split('\n')[0], `#!/usr/bin/env -S node ${SIPD_NODE_FLAGS.join(' ')}`);
});

test('sipd started through its shebang runs with a 16 MB young generation (one semi-space)', (t) => {
  assertFreshBuild();
  const dir = mkdtempSync(join(tmpdir(), 'sipd-bin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // a preload (NODE_OPTIONS takes --require) reports what V8 was started with, before sipd runs
  const probe = join(dir, 'probe.cjs');
  writeFileSync(probe, "process.stderr.write(`new_space ${require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size}\\n`);\n");
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--require ${probe}` }, timeout: 30_000 });
  assert.equal(r.status, 0, `sipd --version: ${r.error?.message ?? r.stderr}`);
  assert.match(r.stdout, /^sipd \d+\.\d+\.\d+/);
  assert.match(r.stderr, /^new_space 16777216$/m);
  // the same probe under plain `node bin/sipd.js` shows V8's default, so the check can fail
  const plain = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--require ${probe}` }, timeout: 30_000 });
  assert.equal(plain.status, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /^new_space 16777216$/m);
});
