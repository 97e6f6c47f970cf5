/**
 * One call as the dialog module tracks it (Kamailio's dlg_cell): the two legs (tags, contacts,
 * CSeq, route sets, where each leg is reached), the state, the times, and the caller profile the
 * active-calls limit counts.
 *
 * States are Kamailio's numbers (dlg.list shows them): 1 unconfirmed (INVITE forwarded), 2 early
 * (a provisional response with a To tag), 3 confirmed without ACK (2xx), 4 confirmed (ACK seen),
 * 5 deleted (ended; kept briefly so late requests of the dialog still find it).
 */
import type { Endpoint } from '../../kernel/contracts.js';
import type { CallParties, EndReason } from '../acc/records.js';

export const DLG_UNCONFIRMED = 1;
export const DLG_EARLY = 2;
export const DLG_CONFIRMED_NA = 3;
export const DLG_CONFIRMED = 4;
export const DLG_DELETED = 5;

export type LegName = 'caller' | 'callee';

export interface Leg {
  tag: string;
  /** the leg's Contact URI (the Request-URI of requests sent to it) */
  contact: string;
  /** highest CSeq seen in requests from this leg (or sent to the other on its behalf) */
  cseq: number;
  /** Route header values for requests sipd sends towards this leg (beyond sipd), in order */
  routeSet: string[];
  /** our socket facing this leg */
  socket?: Endpoint;
  /** where this leg's messages came from: where requests to it go when no route is left */
  reach?: Endpoint;
  /** From (caller) / To (callee) header value with tag, as this leg wrote it */
  header: string;
}

export class Dialog {
  state = DLG_UNCONFIRMED;
  /** ms */
  readonly initTs: number;
  /** ms, answered */
  startTs: number | undefined;
  /** ms, ended */
  endTs: number | undefined;
  /** To tags of provisional responses (early dialogs); requests in an early dialog use them */
  readonly earlyTags = new Set<string>();
  /**
   * Where each other fork's 2xx came from (its To tag → source): that device's ACK and BYE go
   * there, as the answered fork's go to callee.reach — its Contact is a private address when it
   * is behind NAT.
   */
  readonly forkReach = new Map<string, Endpoint>();
  readonly caller: Leg;
  readonly callee: Leg;
  /** the final response to the INVITE (the disposition) */
  sipCode = 0;
  sipReason = '';
  endReason: EndReason | undefined;
  /** the max-duration timer (cleared on end) */
  timer: NodeJS.Timeout | undefined;
  /** the spending-limit timer (modules/limits; cleared on end) */
  budgetTimer: NodeJS.Timeout | undefined;
  /** max duration in seconds (0 = none) */
  lifetime: number;
  /**
   * sipd --cluster: a call another node owns and handed to this one for its contact; kept only
   * so that in-dialog requests pass (no CDR, no accounting, not listed by dlg.list)
   */
  transit = false;
  /** transit: the node that handed the call over (owns it) */
  owner: string | undefined;
  /**
   * sipd --cluster: the node this call was taken over from (its owner died; dialog module
   * `adopt`). In-dialog requests then follow the stored route sets, not the Route headers,
   * which still name the dead node; the CDR's end_reason says `;taken-over`.
   */
  takenFrom: string | undefined;

  constructor(
    readonly hEntry: number,
    readonly hId: number,
    readonly callId: string,
    readonly fromUri: string,
    readonly toUri: string,
    /** the subscriber the active-calls limit counts this call against; undefined for carrier/guest calls */
    readonly profileUser: string | undefined,
    readonly parties: CallParties,
    caller: Leg,
    lifetime: number,
    now: number,
  ) {
    this.initTs = now;
    this.caller = caller;
    this.callee = { tag: '', contact: '', cseq: 0, routeSet: [], header: '' };
    this.lifetime = lifetime;
  }

  get active(): boolean {
    return this.state !== DLG_DELETED;
  }

  get confirmed(): boolean {
    return this.state === DLG_CONFIRMED_NA || this.state === DLG_CONFIRMED;
  }

  /**
   * A forked INVITE answered by more than one branch (RFC 3261 §16.7 item 5 relays every 2xx):
   * this request belongs to a branch whose 2xx came after the one that made the call — its
   * callee-side tag is an early tag, not the callee's. The caller ACKs and BYEs such a dialog;
   * it is not the call.
   */
  otherFork(leg: LegName, fromTag: string | undefined, toTag: string | undefined): boolean {
    const tag = leg === 'caller' ? toTag : fromTag;
    return this.confirmed && tag !== this.callee.tag;
  }

  /** Which leg sent a request with this From tag (undefined: not this dialog's). */
  legOf(fromTag: string | undefined, toTag: string | undefined): LegName | undefined {
    if (fromTag === this.caller.tag && toTag !== undefined && (toTag === this.callee.tag || this.earlyTags.has(toTag))) return 'caller';
    if (toTag === this.caller.tag && fromTag !== undefined && (fromTag === this.callee.tag || this.earlyTags.has(fromTag))) return 'callee';
    return undefined;
  }
}
