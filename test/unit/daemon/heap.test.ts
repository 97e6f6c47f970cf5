import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { heapFlags } from '../../../src/daemon/kernel/heap.js';

test('limits.heapGrowthPercent and limits.heapOptimizeForSize become V8 flags; 0 and false leave V8 its defaults', () => {
  assert.deepEqual(heapFlags({ heapGrowthPercent: 25, heapOptimizeForSize: true }), ['--heap-growing-percent=25', '--optimize-for-size']);
  assert.deepEqual(heapFlags({ heapGrowthPercent: 0, heapOptimizeForSize: true }), ['--optimize-for-size']);
  assert.deepEqual(heapFlags({ heapGrowthPercent: 0, heapOptimizeForSize: false }), []);
  assert.throws(() => heapFlags({ heapGrowthPercent: -1, heapOptimizeForSize: false }), /expected an integer ≥ 0/);
  assert.throws(() => heapFlags({ heapGrowthPercent: 2.5, heapOptimizeForSize: false }), /expected an integer ≥ 0/);
});

test('applyHeapLimits, called in a running process, bounds the old generation of a program that keeps 30 MB live while it allocates', () => {
  // the same program in fresh processes: V8's defaults, then each limit; the largest committed old
  // space is compared with the defaults' (ratios, not sizes or times)
  const program = (limits: { heapGrowthPercent: number; heapOptimizeForSize: boolean }) => `
    const { applyHeapLimits } = await import(${JSON.stringify(new URL('../../../src/daemon/kernel/heap.ts', import.meta.url).href)});
    const v8 = await import('node:v8');
    applyHeapLimits(${JSON.stringify(limits)});
    const live = []; for (let i = 0; i < 200000; i++) live.push({ a: 'x' + i, b: [i, i + 1] });
    let max = 0;
    for (let r = 0; r < 2000000; r++) {
      const o = { s: 'y' + r, arr: new Array(8).fill(r) };
      if (r % 7 === 0) live[r % live.length] = o;
      if (r % 5000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').physical_space_size);
    }
    process.stdout.write(String(max));`;
  const run = (limits: { heapGrowthPercent: number; heapOptimizeForSize: boolean }) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program(limits)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout) / 2 ** 20;
  };
  const defaults = run({ heapGrowthPercent: 0, heapOptimizeForSize: false });
  const sipd = run({ heapGrowthPercent: 25, heapOptimizeForSize: true }); // sipd's defaults
  const growth = run({ heapGrowthPercent: 10, heapOptimizeForSize: false });
  const compact = run({ heapGrowthPercent: 0, heapOptimizeForSize: true });
  const msg = `Node ${process.version}, largest old space: V8's defaults ${defaults.toFixed(1)} MB, sipd's defaults ${sipd.toFixed(1)} MB, growth 10 % ${growth.toFixed(1)} MB, optimize for size ${compact.toFixed(1)} MB`;
  assert.ok(sipd < defaults * 0.8, msg);
  assert.ok(compact < defaults * 0.8, msg);
  // The growth cap set at run time bounds this program on Node 20 and 22 (V8 11.3, 12.4); on
  // Node 24 (V8 13.6) it showed no effect here (69–85 MB against 70 MB), so there sipd's bound
  // comes from optimize-for-size alone, as the two assertions above check.
  if (Number(process.versions.node.split('.')[0]) < 24) assert.ok(growth < defaults * 0.9, msg);
});
