/**
 * Stateless replies (RFC 3261 §8.2.6, Kamailio's sl_send_reply): the response copies the
 * request's Via header fields (the top one with `received` and `rport` filled in per RFC 3261
 * §18.2.1 and RFC 3581), From, Call-ID and CSeq, and its To with a tag added when the request had
 * none (except for 100). The To tag is derived from the request (HMAC over Call-ID, From tag,
 * CSeq and top branch with a per-process key), so a retransmission gets the same tag, as a
 * stateless server must give it (RFC 3261 §8.2.6.2).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SipRequest } from '../../core/sip/message.js';
import { formatVia } from '../../core/sip/serializer.js';
import type { Endpoint, ReplySpec } from './contracts.js';

export interface ReplyOptions {
  /** where the request came from: fills received / rport */
  source: Endpoint;
  /** Server header value; omitted when empty */
  server?: string;
  /** key for To tags (random per process when not given) */
  tagKey?: Buffer;
}

const processTagKey = randomBytes(32);

/** Header names a module may not set in a ReplySpec: the kernel writes them. */
const KERNEL_HEADERS = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'content-length', 'l', 'v', 'f', 't', 'i']);

/** Reason phrases and header values must not carry CR / LF (a module bug must not split a header). */
function oneLine(s: string): string {
  return s.replace(/[\r\n\0]+/g, ' ');
}

export function toTag(req: SipRequest, key: Buffer = processTagKey): string {
  const h = createHmac('sha256', key);
  h.update(req.callId ?? '');
  h.update('\0');
  h.update(req.from?.tag ?? '');
  h.update('\0');
  h.update(String(req.cseq?.seq ?? ''));
  h.update('\0');
  h.update(req.via[0]?.branch ?? '');
  return h.digest('hex').slice(0, 24);
}

/** The response to `req` as bytes. */
export function buildReply(req: SipRequest, spec: ReplySpec, opts: ReplyOptions): Buffer {
  const lines: string[] = [`SIP/2.0 ${spec.status} ${oneLine(spec.reason)}`];
  // Via: the top one gets received / rport; the rest are copied (formatted from their parse).
  if (req.via.length > 0) {
    const [top, ...rest] = req.via;
    const params = new Map(top.params);
    if (top.rport !== undefined) params.set('rport', String(opts.source.port));
    if (top.host !== opts.source.ip || top.rport !== undefined) params.set('received', opts.source.ip);
    lines.push(`Via: ${formatVia({ ...top, params })}`);
    for (const v of rest) lines.push(`Via: ${formatVia(v)}`);
  }
  for (const f of req.headers) {
    if (f.key === 'from' || f.key === 'call-id' || f.key === 'cseq') lines.push(`${canonical(f.key)}: ${f.value}`);
    else if (f.key === 'to') {
      const tagged = req.to?.tag !== undefined || spec.status === 100 ? f.value : `${f.value};tag=${toTag(req, opts.tagKey)}`;
      lines.push(`To: ${tagged}`);
    }
  }
  for (const [name, value] of spec.headers ?? []) {
    if (KERNEL_HEADERS.has(name.toLowerCase()) || !/^[A-Za-z0-9!%*_+`'~.-]{1,64}$/.test(name)) continue;
    lines.push(`${name}: ${oneLine(value)}`);
  }
  if (opts.server) lines.push(`Server: ${oneLine(opts.server)}`);
  const body = Buffer.from(spec.body ?? '', 'utf8');
  lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), body]);
}

function canonical(key: string): string {
  switch (key) {
    case 'from':
      return 'From';
    case 'call-id':
      return 'Call-ID';
    case 'cseq':
      return 'CSeq';
    default:
      return key;
  }
}
