/**
 * What every transaction shares (RFC 3261 §17): a state named as in the RFC, named timers, a
 * transport path, and removal from the transaction layer when it reaches Terminated.
 */
import type { TimerHandle, TimerHost, TimerValues } from './timers.js';

export type TransactionState = 'Calling' | 'Trying' | 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';

/** Where a transaction's messages go (§18): the bytes, and whether the transport is reliable. */
export interface TransportPath {
  /** TCP / TLS: no retransmissions, timers D, I, J, K are zero */
  readonly reliable: boolean;
  /** false when the bytes could not be handed to a transport (no socket, connection gone) */
  send(data: Buffer): boolean;
}

/** The transaction layer as a transaction sees it. */
export interface TransactionHost {
  readonly timers: TimerHost;
  values(reliable: boolean): TimerValues;
  /** called once when the transaction reaches Terminated */
  terminated(tx: Transaction): void;
}

export abstract class Transaction {
  abstract readonly kind: 'client-invite' | 'client-non-invite' | 'server-invite' | 'server-non-invite';
  state: TransactionState;
  protected readonly t: TimerValues;
  private readonly running = new Map<string, TimerHandle>();

  constructor(
    protected readonly host: TransactionHost,
    /** the key the layer files it under */
    readonly key: string,
    protected readonly path: TransportPath,
    initial: TransactionState,
  ) {
    this.state = initial;
    this.t = host.values(path.reliable);
  }

  get reliable(): boolean {
    return this.path.reliable;
  }

  /** Start (or restart) timer `name` (the RFC's letter). A zero duration fires on the next tick. */
  protected startTimer(name: string, ms: number, fire: () => void): void {
    this.running.get(name)?.clear();
    this.running.set(name, this.host.timers.set(ms, () => {
      this.running.delete(name);
      if (this.state !== 'Terminated') fire();
    }));
  }

  protected stopTimer(name: string): void {
    this.running.get(name)?.clear();
    this.running.delete(name);
  }

  /** the timers currently running, by RFC name (for tests and dumps) */
  timers(): string[] {
    return [...this.running.keys()].sort();
  }

  /** Enter Terminated: every timer stops and the layer forgets the transaction. */
  terminate(): void {
    if (this.state === 'Terminated') return;
    this.state = 'Terminated';
    for (const h of this.running.values()) h.clear();
    this.running.clear();
    this.host.terminated(this);
  }
}
