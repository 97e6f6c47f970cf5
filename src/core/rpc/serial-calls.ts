import { OneAtATime } from '../one-at-a-time.js';
import type { WireRequest } from './transport.js';

/**
 * One call at a time per client, for a transport whose far end reads one request at a time:
 * Kamailio's datagram socket (one process). The deadline starts when the call is made, not when
 * its turn comes: timeoutMs bounds the whole call, time queued behind earlier calls included.
 */
export class SerialCalls {
  private readonly turns = new OneAtATime();

  constructor(
    private readonly timeoutMs: number,
    private readonly once: (request: WireRequest, deadline: number, timeoutMs: number) => Promise<unknown>,
  ) {}

  exchange(request: WireRequest, callTimeoutMs?: number): Promise<unknown> {
    const t = callTimeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + t;
    return this.turns.run(() => this.once(request, deadline, t));
  }

  /** Settles once every call made so far has settled (for close()). */
  idle(): Promise<unknown> {
    return this.turns.idle();
  }
}
