import { SipctlError } from './errors.js';

/**
 * Close several things, every one of them even when one fails, then report the failures: the
 * first as it is, several as one error naming each. A close that fails may have left something
 * behind (a reply FIFO, a connection), which the operator must hear of, and one failure must not
 * leave the others open.
 */
export async function closeAll(closers: Array<() => Promise<void>>): Promise<void> {
  const failed: unknown[] = [];
  for (const r of await Promise.allSettled(closers.map(async (close) => close()))) if (r.status === 'rejected') failed.push(r.reason);
  if (failed.length === 0) return;
  if (failed.length === 1) throw failed[0];
  const text = (e: unknown) => (e instanceof Error ? e.message : String(e));
  throw new SipctlError('CLOSE_FAILED', `${failed.length} connections did not close cleanly: ${failed.map(text).join('; ')}`, { cause: failed[0] });
}
