/**
 * How sipd's JavaScript heap gives memory back (issue 18): V8 flags set from `limits.*` at start.
 *
 * Measured under a steady REGISTER load (bench/soak-bench.ts), the memory sipd holds after a full
 * collection is flat, but V8's committed heap — and with it the resident memory — crept up for
 * half an hour and jumped with every burst, for two reasons:
 *  - growth: after each full collection V8 sets the next one's trigger at (what is still live) ×
 *    a factor it chooses itself, from 1.1 up to 4 when collections are cheap compared with the
 *    allocation rate, as they are for a proxy under load. `limits.heapGrowthPercent` fixes it
 *    (V8 `--heap-growing-percent`);
 *  - fragmentation: the caches that turn over (replay protection, reply cache, registrations)
 *    leave old-space pages partly used; V8 compacts only pages that are at least 70 % free, so
 *    the committed old space stayed at about twice what was live. `limits.heapOptimizeForSize`
 *    (V8 `--optimize-for-size`) makes full collections compact pages from 20 % free and keeps the
 *    growing factor conservative.
 * (On Node 24's V8 the growth cap set at run time showed no effect in test/unit/daemon/heap.test.ts;
 * optimize-for-size still bounds the heap there.)
 * Both flags are read by V8 at every collection, so setting them once at start works (the
 * young generation's size, fixed when the process starts, is not affected: `node
 * --max-semi-space-size=N`, e.g. through NODE_OPTIONS, sets that).
 */
import { setFlagsFromString } from 'node:v8';

export interface HeapLimits {
  /** 0: V8's own dynamic growing factor */
  heapGrowthPercent: number;
  heapOptimizeForSize: boolean;
}

/** The V8 flags for the configured limits (none for 0 and false: V8's defaults). */
export function heapFlags(limits: HeapLimits): string[] {
  const p = limits.heapGrowthPercent;
  if (!Number.isInteger(p) || p < 0) throw new RangeError(`heap growth percent: expected an integer ≥ 0, got ${p}`);
  return [...(p > 0 ? [`--heap-growing-percent=${p}`] : []), ...(limits.heapOptimizeForSize ? ['--optimize-for-size'] : [])];
}

/** Applies limits.heapGrowthPercent and limits.heapOptimizeForSize to this process's V8 heap. */
export function applyHeapLimits(limits: HeapLimits): void {
  for (const f of heapFlags(limits)) setFlagsFromString(f);
}
