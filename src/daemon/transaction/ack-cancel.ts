/**
 * The two requests the transaction layer (and a proxy) build from an INVITE it sent:
 *
 * - ACK for a non-2xx final response (§17.1.1.3): Request-URI, Call-ID, From, the top Via (so the
 *   same branch) and Route of the INVITE; To of the response (with its tag); CSeq number of the
 *   INVITE with method ACK. It is part of the INVITE transaction, sent hop by hop.
 * - CANCEL (§9.1): Request-URI, Call-ID, To, From, CSeq number, the top Via and Route of the
 *   INVITE; method CANCEL. It is its own non-INVITE transaction but matches the INVITE's branch.
 */
import type { SipRequest, SipResponse } from '../../core/sip/message.js';
import { formatVia } from '../../core/sip/serializer.js';
import { formatUri } from '../../core/sip/uri.js';

function field(msg: { headers: ReadonlyArray<{ key: string; value: string }> }, key: string): string | undefined {
  for (const f of msg.headers) if (f.key === key) return f.value;
  return undefined;
}

function build(method: 'ACK' | 'CANCEL', invite: SipRequest, to: string): Buffer {
  const lines = [`${method} ${formatUri(invite.uri)} SIP/2.0`];
  if (invite.via.length > 0) lines.push(`Via: ${formatVia(invite.via[0])}`);
  for (const f of invite.headers) if (f.key === 'route') lines.push(`Route: ${f.value}`);
  lines.push(`From: ${field(invite, 'from') ?? ''}`, `To: ${to}`, `Call-ID: ${invite.callId ?? ''}`, `CSeq: ${invite.cseq?.seq ?? 1} ${method}`, 'Max-Forwards: 70', 'Content-Length: 0');
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
}

/** ACK for a 300-699 response to `invite` (§17.1.1.3). */
export function buildAckForNon2xx(invite: SipRequest, response: SipResponse): Buffer {
  return build('ACK', invite, field(response, 'to') ?? field(invite, 'to') ?? '');
}

/** CANCEL for `invite` as it was sent (§9.1). */
export function buildCancel(invite: SipRequest): Buffer {
  return build('CANCEL', invite, field(invite, 'to') ?? '');
}
