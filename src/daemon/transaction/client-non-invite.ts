/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
 *
 *   Trying ──1xx──▶ Proceeding ──200-699──▶ Completed ──Timer K──▶ Terminated
 *     │ Timer E: retransmit, T1 doubling up to T2 (unreliable; T2 steady in Proceeding)
 *     └ Timer F: timeout → TU (as 408), Terminated
 *
 * Responses retransmitted in Completed are absorbed.
 */
import type { SipRequest, SipResponse } from '../../core/sip/message.js';
import type { ClientTransactionUser } from './client-invite.js';
import { Transaction, type TransactionHost, type TransportPath } from './transaction.js';

export class ClientNonInviteTransaction extends Transaction {
  readonly kind = 'client-non-invite';
  finalStatus: number | undefined;

  constructor(
    host: TransactionHost,
    key: string,
    readonly request: SipRequest | undefined,
    private readonly bytes: Buffer,
    path: TransportPath,
    private readonly tu: ClientTransactionUser,
  ) {
    super(host, key, path, 'Trying');
  }

  start(): void {
    if (!this.path.send(this.bytes)) {
      this.terminate();
      this.tu.onTransportError?.();
      return;
    }
    if (!this.reliable) this.retransmitE(this.t.E);
    this.startTimer('F', this.t.F, () => {
      if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
      this.terminate();
      this.tu.onTimeout();
    });
  }

  private retransmitE(interval: number): void {
    this.startTimer('E', interval, () => {
      if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
      this.path.send(this.bytes);
      this.retransmitE(this.state === 'Proceeding' ? this.t.T2 : Math.min(interval * 2, this.t.T2));
    });
  }

  receiveResponse(res: SipResponse, raw: Buffer): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    if (res.status < 200) {
      this.state = 'Proceeding';
      this.tu.onResponse(res, raw);
      return;
    }
    this.state = 'Completed';
    this.finalStatus = res.status;
    this.stopTimer('E');
    this.stopTimer('F');
    this.startTimer('K', this.t.K, () => this.terminate());
    this.tu.onResponse(res, raw);
  }
}
