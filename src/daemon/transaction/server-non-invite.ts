/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
 *
 *   Trying ──1xx from TU──▶ Proceeding ──200-699 from TU──▶ Completed ──Timer J──▶ Terminated
 *   (a final response from Trying goes straight to Completed)
 *
 * Request retransmissions: absorbed in Trying; the last response sent again in Proceeding and
 * Completed.
 */
import type { SipRequest } from '../../core/sip/message.js';
import type { ServerTransactionUser } from './server-invite.js';
import { Transaction, type TransactionHost, type TransportPath } from './transaction.js';

export class ServerNonInviteTransaction extends Transaction {
  readonly kind = 'server-non-invite';
  private last: Buffer | undefined;
  lastStatus: number | undefined;

  constructor(
    host: TransactionHost,
    key: string,
    readonly request: SipRequest,
    path: TransportPath,
    private readonly tu: ServerTransactionUser = {},
  ) {
    super(host, key, path, 'Trying');
  }

  receiveRequest(_req: SipRequest): 'absorbed' {
    if ((this.state === 'Proceeding' || this.state === 'Completed') && this.last !== undefined) this.path.send(this.last);
    return 'absorbed';
  }

  respond(status: number, bytes: Buffer): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    this.path.send(bytes);
    this.last = bytes;
    this.lastStatus = status;
    if (status < 200) {
      this.state = 'Proceeding';
      return;
    }
    this.state = 'Completed';
    this.startTimer('J', this.t.J, () => this.terminate());
  }

  override terminate(): void {
    if (this.state === 'Terminated') return;
    super.terminate();
    this.tu.onTerminated?.();
  }
}
