/**
 * The transaction layer: the tables of client and server transactions and the matching rules.
 *
 * Server transactions (§17.2.3): the top Via's branch (with the magic cookie), its sent-by and
 * the method — ACK matching the INVITE it acknowledges; CANCEL has its own transaction, found
 * with the INVITE's key by `matchInviteForCancel` (§9.2). A request without the magic cookie
 * (RFC 2543) is keyed by Call-ID, From tag, CSeq number, sent-by and method instead.
 *
 * Client transactions (§17.1.3): the top Via's branch of the response and its CSeq method.
 *
 * Transactions remove themselves when they reach Terminated; the layer only files them.
 */
import type { SipRequest, SipResponse } from '../../core/sip/message.js';
import { MAGIC_COOKIE } from './branch.js';
import { ClientInviteTransaction, type ClientTransactionUser } from './client-invite.js';
import { ClientNonInviteTransaction } from './client-non-invite.js';
import { ServerInviteTransaction, type ServerTransactionUser } from './server-invite.js';
import { ServerNonInviteTransaction } from './server-non-invite.js';
import { RFC3261_TIMERS, realTimers, timerValues, type TimerHost, type TimerSettings, type TimerValues } from './timers.js';
import type { Transaction, TransactionHost, TransportPath } from './transaction.js';

export type ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction;
export type ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction;

export interface TransactionLayerOptions {
  timers?: TimerHost;
  settings?: Partial<TimerSettings>;
}

function sentBy(req: SipRequest): string {
  const v = req.via[0];
  const port = v.port ?? (v.transport === 'TLS' ? 5061 : 5060);
  return `${v.host.toLowerCase()}:${port}`;
}

/** The server-transaction key of `req` under `method` (default: its own; ACK → INVITE). Undefined without a Via. */
export function serverKey(req: SipRequest, method?: string): string | undefined {
  if (req.via.length === 0) return undefined;
  const m = method ?? (req.method === 'ACK' ? 'INVITE' : req.method);
  const branch = req.via[0].branch;
  if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) return `${branch}\0${sentBy(req)}\0${m}`;
  return `2543\0${req.callId ?? ''}\0${req.from?.tag ?? ''}\0${req.cseq?.seq ?? ''}\0${sentBy(req)}\0${m}`;
}

export function clientKey(branch: string, method: string): string {
  return `${branch}\0${method}`;
}

export class TransactionLayer implements TransactionHost {
  readonly timers: TimerHost;
  readonly settings: TimerSettings;
  private readonly reliableValues: TimerValues;
  private readonly unreliableValues: TimerValues;
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();

  constructor(opts: TransactionLayerOptions = {}) {
    this.timers = opts.timers ?? realTimers;
    this.settings = { ...RFC3261_TIMERS, ...opts.settings };
    this.reliableValues = timerValues(this.settings, true);
    this.unreliableValues = timerValues(this.settings, false);
  }

  values(reliable: boolean): TimerValues {
    return reliable ? this.reliableValues : this.unreliableValues;
  }

  terminated(tx: Transaction): void {
    const table: Map<string, Transaction> = tx.kind.startsWith('server') ? this.servers : this.clients;
    if (table.get(tx.key) === tx) table.delete(tx.key);
  }

  /** The server transaction a request belongs to (a retransmission, or the ACK of a non-2xx). */
  matchServer(req: SipRequest): ServerTransaction | undefined {
    const key = serverKey(req);
    return key === undefined ? undefined : this.servers.get(key);
  }

  /** The INVITE server transaction a CANCEL cancels (§9.2). */
  matchInviteForCancel(cancel: SipRequest): ServerInviteTransaction | undefined {
    const key = serverKey(cancel, 'INVITE');
    const tx = key === undefined ? undefined : this.servers.get(key);
    return tx instanceof ServerInviteTransaction ? tx : undefined;
  }

  /** A new server transaction for `req` (not an ACK); undefined when it has no Via or one exists. */
  createServer(req: SipRequest, path: TransportPath, tu?: ServerTransactionUser): ServerTransaction | undefined {
    const key = serverKey(req);
    if (key === undefined || req.method === 'ACK' || this.servers.has(key)) return undefined;
    const tx = req.method === 'INVITE' ? new ServerInviteTransaction(this, key, req, path, tu) : new ServerNonInviteTransaction(this, key, req, path, tu);
    this.servers.set(key, tx);
    return tx;
  }

  /**
   * A new client transaction for `req` as sent (its top Via is ours, with `branch`), started at
   * once. INVITE gets an INVITE client transaction; ACK is refused (it is not a transaction).
   */
  startClient(req: SipRequest, bytes: Buffer, path: TransportPath, tu: ClientTransactionUser): ClientTransaction {
    const branch = req.via[0]?.branch;
    if (branch === undefined || req.method === 'ACK') throw new Error(`cannot start a client transaction for ${req.method} without a branch`);
    const key = clientKey(branch, req.method);
    if (this.clients.has(key)) throw new Error(`client transaction ${branch} ${req.method} exists`);
    const tx = req.method === 'INVITE' ? new ClientInviteTransaction(this, key, req, bytes, path, tu) : new ClientNonInviteTransaction(this, key, req, bytes, path, tu);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** The client transaction a response belongs to (§17.1.3), or undefined (then it is dropped). */
  matchClient(res: SipResponse): ClientTransaction | undefined {
    const branch = res.via[0]?.branch;
    if (branch === undefined || res.cseq === undefined) return undefined;
    return this.clients.get(clientKey(branch, res.cseq.method));
  }

  counts(): { server: number; client: number } {
    return { server: this.servers.size, client: this.clients.size };
  }

  /** Terminate everything (shutdown). */
  clear(): void {
    for (const t of [...this.servers.values(), ...this.clients.values()]) t.terminate();
  }
}
