/**
 * Via branch values (RFC 3261 §8.1.1.7, §16.6 item 8) and the proxy's loop check (§16.3 item 4).
 *
 * A branch sipd puts on a forwarded request is `z9hG4bK` + LOOP + `.` + UNIQUE:
 * - LOOP hashes what identifies the request as it arrived — Request-URI, From tag, Call-ID, CSeq
 *   number, Proxy-Require — so the same request coming back to sipd unchanged (a loop) carries a
 *   Via of ours with the same LOOP part; a spiral (a changed Request-URI) does not.
 * - UNIQUE makes the branch unique per forwarded request (process prefix + counter).
 * A stateless forward (the ACK of a 2xx) gets a branch derived from the incoming one, so its
 * retransmissions keep the same branch (§16.11).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SipRequest } from '../../core/sip/message.js';

export const MAGIC_COOKIE = 'z9hG4bK';

const processPrefix = randomBytes(4).toString('hex');
let counter = 0;

/** A fresh branch for a request sipd originates (BYE of a dialog it ends, …). */
export function newBranch(): string {
  return `${MAGIC_COOKIE}${processPrefix}${(++counter).toString(36)}`;
}

/** The loop-detection part of a branch for `req` as it arrived. */
export function loopHash(req: SipRequest): string {
  const h = createHash('sha1');
  h.update(req.rawUri);
  h.update('\0');
  h.update(req.from?.tag ?? '');
  h.update('\0');
  h.update(req.callId ?? '');
  h.update('\0');
  h.update(String(req.cseq?.seq ?? ''));
  h.update('\0');
  h.update(req.proxyRequire.join(','));
  return h.digest('hex').slice(0, 16);
}

/** The branch of one forwarded request: magic cookie, loop hash, unique part. */
export function proxyBranch(loop: string): string {
  return `${MAGIC_COOKIE}${loop}.${processPrefix}${(++counter).toString(36)}`;
}

/** The loop part of a branch sipd wrote, or undefined for anyone else's. */
export function loopPartOf(branch: string | undefined): string | undefined {
  if (branch === undefined || !branch.startsWith(MAGIC_COOKIE)) return undefined;
  const dot = branch.indexOf('.', MAGIC_COOKIE.length);
  return dot === MAGIC_COOKIE.length + 16 ? branch.slice(MAGIC_COOKIE.length, dot) : undefined;
}

/** A branch for a request forwarded statelessly: the same for every retransmission of it. */
export function statelessBranch(req: SipRequest): string {
  const h = createHash('sha1');
  h.update(req.via[0]?.branch ?? '');
  h.update('\0');
  h.update(req.callId ?? '');
  h.update('\0');
  h.update(String(req.cseq?.seq ?? ''));
  h.update(req.method);
  return `${MAGIC_COOKIE}${h.digest('hex').slice(0, 16)}.sl`;
}
