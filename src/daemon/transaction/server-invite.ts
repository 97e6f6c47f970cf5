/**
 * INVITE server transaction (RFC 3261 §17.2.1, Figure 7, with RFC 6026's Accepted state).
 *
 *   Proceeding ──2xx from TU──▶ Accepted ──Timer L──▶ Terminated
 *     │ INVITE retransmission: last provisional sent again
 *     │ 300-699 from TU
 *     ▼
 *   Completed ──ACK──▶ Confirmed ──Timer I──▶ Terminated
 *     │ Timer G: final response retransmitted (unreliable), T1 doubling up to T2
 *     │ INVITE retransmission: final response sent again
 *     └ Timer H: no ACK → TU told, Terminated
 *
 * An ACK in Confirmed, and INVITE retransmissions in Accepted or Confirmed, are absorbed. In
 * Accepted, 2xx retransmissions from the TU (a proxy forwarding the UAS's) are sent on, and an
 * ACK that matches (RFC 2543-style reuse of the branch) goes to the TU, which routes it.
 */
import type { SipRequest } from '../../core/sip/message.js';
import { Transaction, type TransactionHost, type TransportPath } from './transaction.js';

export interface ServerTransactionUser {
  /** Timer H fired: the final response was never acknowledged */
  onNoAck?(): void;
  /** the transaction reached Terminated */
  onTerminated?(): void;
}

export type ServerReceiveResult = 'absorbed' | 'ack-to-tu';

export class ServerInviteTransaction extends Transaction {
  readonly kind = 'server-invite';
  private last: Buffer | undefined;
  lastStatus: number | undefined;

  constructor(
    host: TransactionHost,
    key: string,
    readonly request: SipRequest,
    path: TransportPath,
    private readonly tu: ServerTransactionUser = {},
  ) {
    super(host, key, path, 'Proceeding');
  }

  /** A request that matched this transaction: an INVITE retransmission or an ACK. */
  receiveRequest(req: SipRequest): ServerReceiveResult {
    if (req.method === 'ACK') {
      if (this.state === 'Completed') {
        this.state = 'Confirmed';
        this.stopTimer('G');
        this.stopTimer('H');
        this.startTimer('I', this.t.I, () => this.terminate());
        return 'absorbed';
      }
      return this.state === 'Accepted' ? 'ack-to-tu' : 'absorbed';
    }
    // INVITE retransmission (§17.2.1): the last provisional in Proceeding, the final in Completed.
    if ((this.state === 'Proceeding' || this.state === 'Completed') && this.last !== undefined) this.path.send(this.last);
    return 'absorbed';
  }

  /** The TU's response (status and bytes, Via already as it must go out). */
  respond(status: number, bytes: Buffer): void {
    switch (this.state) {
      case 'Proceeding':
        this.path.send(bytes);
        this.last = bytes;
        this.lastStatus = status;
        if (status < 200) return;
        if (status < 300) {
          this.state = 'Accepted';
          this.startTimer('L', this.t.L, () => this.terminate());
          return;
        }
        this.state = 'Completed';
        if (!this.reliable) this.retransmitG(this.t.G);
        this.startTimer('H', this.t.H, () => {
          if (this.state !== 'Completed') return;
          this.terminate();
          this.tu.onNoAck?.();
        });
        return;
      case 'Accepted':
        // 2xx retransmissions pass (RFC 6026 §7.1); anything else is too late.
        if (status >= 200 && status < 300) this.path.send(bytes);
        return;
      default:
        return;
    }
  }

  private retransmitG(interval: number): void {
    this.startTimer('G', interval, () => {
      if (this.state !== 'Completed' || this.last === undefined) return;
      this.path.send(this.last);
      this.retransmitG(Math.min(interval * 2, this.t.T2));
    });
  }

  override terminate(): void {
    if (this.state === 'Terminated') return;
    super.terminate();
    this.tu.onTerminated?.();
  }
}
