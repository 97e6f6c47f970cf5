import type { WireRequest } from './transport.js';

/**
 * One call at a time per client, for transports whose far end reads one request at a time:
 * Kamailio's jsonrpcs FIFO (one shared stream) and its datagram socket (one process). The
 * deadline starts when the call is made, not when its turn comes: timeoutMs bounds the whole
 * call, time queued behind earlier calls included.
 */
export class SerialCalls {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly timeoutMs: number,
    private readonly once: (request: WireRequest, deadline: number, timeoutMs: number) => Promise<unknown>,
  ) {}

  exchange(request: WireRequest, callTimeoutMs?: number): Promise<unknown> {
    const t = callTimeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + t;
    const run = (): Promise<unknown> => this.once(request, deadline, t);
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Settles once every call made so far has settled (for close()). */
  idle(): Promise<unknown> {
    return this.tail;
  }
}
