/**
 * INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with RFC 6026's Accepted state).
 *
 *   Calling ──1xx──▶ Proceeding ──2xx──▶ Accepted ──Timer M──▶ Terminated
 *      │  Timer A: retransmit (unreliable)    │ 300-699: ACK, to TU
 *      │  Timer B: timeout → TU, Terminated   ▼   (B only runs in Calling)
 *      └──────────300-699─────────────▶ Completed ──Timer D──▶ Terminated
 *                                        (response retransmits re-ACKed, not passed up)
 *
 * The ACK for a non-2xx final response is generated here (§17.1.1.3); the ACK for a 2xx is the
 * UAC's, end to end, and never part of this transaction. In Accepted every 2xx (retransmissions
 * of the first, and 2xx of other forks) goes to the TU, which a proxy forwards upstream.
 */
import type { SipRequest, SipResponse } from '../../core/sip/message.js';
import { buildAckForNon2xx } from './ack-cancel.js';
import { Transaction, type TransactionHost, type TransportPath } from './transaction.js';

export interface ClientTransactionUser {
  /** a response the TU must act on: every 1xx and 2xx, and the first 300-699 */
  onResponse(response: SipResponse, raw: Buffer): void;
  /** Timer B / F fired without a final response: the TU acts as on a 408 (§17.1.1.2, §17.1.2.2) */
  onTimeout(): void;
  /** the request could not be handed to a transport (§17.1.4): the TU acts as on a 503 */
  onTransportError?(): void;
}

export class ClientInviteTransaction extends Transaction {
  readonly kind = 'client-invite';
  /** a provisional response has been received (CANCEL may be sent now, §9.1) */
  provisional = false;
  /** status of the final response, when there was one */
  finalStatus: number | undefined;
  private ack: Buffer | undefined;

  constructor(
    host: TransactionHost,
    key: string,
    /** the INVITE as sent (for the ACK and a CANCEL) */
    readonly request: SipRequest,
    private readonly bytes: Buffer,
    path: TransportPath,
    private readonly tu: ClientTransactionUser,
  ) {
    super(host, key, path, 'Calling');
  }

  /** Send the INVITE and start Timers A (unreliable) and B. */
  start(): void {
    if (!this.path.send(this.bytes)) {
      this.terminate();
      this.tu.onTransportError?.();
      return;
    }
    if (!this.reliable) this.retransmitA(this.t.A);
    this.startTimer('B', this.t.B, () => {
      if (this.state !== 'Calling') return;
      this.terminate();
      this.tu.onTimeout();
    });
  }

  /**
   * The INVITE is no longer wanted (its call was CANCELled or answered elsewhere) before any
   * provisional: stop retransmitting it (Kamailio's cancel_b_method 0), so a contact that did not
   * get it is not made to ring now. Timer B still runs: a late provisional still reaches the TU,
   * which CANCELs the branch then (§9.1).
   */
  stopRetransmitting(): void {
    this.stopTimer('A');
  }

  private retransmitA(interval: number): void {
    this.startTimer('A', interval, () => {
      if (this.state !== 'Calling') return;
      this.path.send(this.bytes);
      this.retransmitA(interval * 2);
    });
  }

  receiveResponse(res: SipResponse, raw: Buffer): void {
    const s = res.status;
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (s < 200) {
          // Timer B only applies in Calling (§17.1.1.2): from here a proxy's Timer C decides.
          this.state = 'Proceeding';
          this.provisional = true;
          this.stopTimer('A');
          this.stopTimer('B');
          this.tu.onResponse(res, raw);
        } else if (s < 300) {
          // RFC 6026 §8.4: Accepted, so 2xx retransmissions and other forks' 2xx still reach the TU.
          this.state = 'Accepted';
          this.finalStatus = s;
          this.stopTimer('A');
          this.stopTimer('B');
          this.startTimer('M', this.t.M, () => this.terminate());
          this.tu.onResponse(res, raw);
        } else {
          this.state = 'Completed';
          this.finalStatus = s;
          this.stopTimer('A');
          this.stopTimer('B');
          this.ack = buildAckForNon2xx(this.request, res);
          this.path.send(this.ack);
          this.startTimer('D', this.t.D, () => this.terminate());
          this.tu.onResponse(res, raw);
        }
        return;
      case 'Completed':
        // A retransmission of the final response: ACK again, the TU has seen it.
        if (s >= 300 && this.ack !== undefined) this.path.send(this.ack);
        return;
      case 'Accepted':
        if (s >= 200 && s < 300) this.tu.onResponse(res, raw);
        return;
      default:
        return;
    }
  }
}
