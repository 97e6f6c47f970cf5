/**
 * tls.cnMustMatchFromUser: a request that arrived over TLS is only taken from a client whose
 * verified certificate names the From user as its subject CN — the certificate, not just a
 * password, says who the client is. Applied by the pipeline before authentication, so a
 * mismatching client learns nothing about the digest challenge and costs no database lookup.
 *
 * UDP and TCP requests are not affected: the policy is about certificates. A deployment that
 * relies on it listens on tls: only.
 */
import { unescape } from '../../core/sip/uri.js';
import type { RequestContext, SecurityEvent, StageResult } from '../kernel/contracts.js';

/** The From URI's user part, unescaped (%61lice is alice); undefined when there is none. */
function fromUser(ctx: RequestContext): string | undefined {
  const from = ctx.msg.from?.uri;
  if (from === undefined || from.kind !== 'sip' || from.user === undefined) return undefined;
  try {
    return unescape(from.user);
  } catch {
    return undefined;
  }
}

export const CERT_MISMATCH_REASON = 'Certificate does not match';

/** Why the request is refused, or undefined when the certificate matches (or the request is not TLS). */
export function certificateMismatch(ctx: RequestContext): string | undefined {
  if (ctx.source.transport !== 'tls') return undefined;
  const peer = ctx.tlsPeer;
  if (peer === undefined) return 'no client certificate';
  if (!peer.verified) return 'client certificate not verified';
  const user = fromUser(ctx);
  if (user === undefined || user === '') return 'no From user';
  if (peer.subjectCN === undefined) return 'certificate has no single subject CN';
  if (peer.subjectCN !== user) return `certificate CN ${JSON.stringify(peer.subjectCN.slice(0, 64))} is not the From user`;
  return undefined;
}

/** The pipeline stage: 403 "Certificate does not match" (and a security event) on a mismatch. */
export function cnMustMatchFromUser(security: (ev: SecurityEvent) => void): (ctx: RequestContext) => StageResult {
  return (ctx) => {
    const why = certificateMismatch(ctx);
    if (why === undefined) return { action: 'continue' };
    const user = fromUser(ctx);
    security({ event: 'tls-refused', sourceIp: ctx.source.ip, method: ctx.msg.method, ...(user !== undefined ? { user: user.slice(0, 64) } : {}), detail: why });
    return { action: 'reply', reply: { status: 403, reason: CERT_MISMATCH_REASON } };
  };
}
