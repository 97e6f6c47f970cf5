/**
 * Watch crypto.timingSafeEqual as the code under test calls it. Node's built-in ESM exports are
 * live bindings that syncBuiltinESMExports() refreshes from the CommonJS object, so a module's
 * `import { timingSafeEqual } from 'node:crypto'` sees the spy. Lets a test prove that a
 * comparison is constant-time by construction (which function compares, on what lengths)
 * instead of timing it, which only measures the machine's load.
 */
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

export interface TimingSafeEqualCall {
  /** byte lengths of the two buffers */
  lengths: [number, number];
  result: boolean;
}

export function spyTimingSafeEqual(): { calls: TimingSafeEqualCall[]; restore(): void } {
  const original = crypto.timingSafeEqual;
  const calls: TimingSafeEqualCall[] = [];
  crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    const result = original(a, b);
    calls.push({ lengths: [a.byteLength, b.byteLength], result });
    return result;
  }) as typeof crypto.timingSafeEqual;
  syncBuiltinESMExports();
  return {
    calls,
    restore() {
      crypto.timingSafeEqual = original;
      syncBuiltinESMExports();
    },
  };
}
