import assert from 'node:assert/strict';

/**
 * Polls `fn` every 50 ms until it returns a value other than undefined or false, and returns that
 * value; fails with "<what>: not within <ms> ms" when it does not. For waiting on another process
 * (a node's heartbeat, a replicated ban, a CDR row) without a fixed sleep.
 */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    assert.ok(Date.now() < deadline, `${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
