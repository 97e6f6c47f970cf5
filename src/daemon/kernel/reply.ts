/**
 * Stateless replies (RFC 3261 §8.2.6, Kamailio's sl_send_reply): the response copies the
 * request's Via header fields (the top one with `received` and `rport` filled in per RFC 3261
 * §18.2.1 and RFC 3581), From, Call-ID and CSeq, and its To with a tag added when the request had
 * none (except for 100). The To tag is derived from the request (HMAC over Call-ID, From tag,
 * CSeq and top branch with a per-process key), so a retransmission gets the same tag, as a
 * stateless server must give it (RFC 3261 §8.2.6.2).
 */
import { createHmac, hash, randomBytes } from 'node:crypto';
import type { SipRequest } from '../../core/sip/message.js';
import { formatVia, formatViaFilled } from '../../core/sip/serializer.js';
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

/**
 * HMAC-SHA256 with the key's pads prepared once (RFC 2104): the same value as createHmac, from
 * two one-shot hashes over a reused buffer, for less than half the CPU of an Hmac object per
 * reply.
 */
class TagMac {
  private readonly inner = Buffer.alloc(64 + 2048);
  private readonly outer = Buffer.alloc(64 + 32);
  constructor(private readonly key: Buffer) {
    const k = key.length > 64 ? hash('sha256', key, 'buffer') : key;
    for (let i = 0; i < 64; i++) {
      this.inner[i] = (i < k.length ? k[i] : 0) ^ 0x36;
      this.outer[i] = (i < k.length ? k[i] : 0) ^ 0x5c;
    }
  }

  hex(message: string): string {
    if (Buffer.byteLength(message, 'utf8') > this.inner.length - 64) return createHmac('sha256', this.key).update(message, 'utf8').digest('hex');
    const n = this.inner.write(message, 64, 'utf8');
    hash('sha256', this.inner.subarray(0, 64 + n), 'buffer').copy(this.outer, 64);
    return hash('sha256', this.outer, 'hex');
  }
}

const tagMacs = new WeakMap<Buffer, TagMac>();

export function toTag(req: SipRequest, key: Buffer = processTagKey): string {
  let mac = tagMacs.get(key);
  if (mac === undefined) {
    mac = new TagMac(key);
    tagMacs.set(key, mac);
  }
  return mac.hex(`${req.callId ?? ''}\0${req.from?.tag ?? ''}\0${String(req.cseq?.seq ?? '')}\0${req.via[0]?.branch ?? ''}`).slice(0, 24);
}

/** The response to `req` as bytes. */
export function buildReply(req: SipRequest, spec: ReplySpec, opts: ReplyOptions): Buffer {
  const lines: string[] = [`SIP/2.0 ${spec.status} ${oneLine(spec.reason)}`];
  // Via: the top one gets received / rport; the rest are copied (formatted from their parse).
  if (req.via.length > 0) {
    const top = req.via[0];
    const rport = top.rport !== undefined ? String(opts.source.port) : undefined;
    const received = top.host !== opts.source.ip || top.rport !== undefined ? opts.source.ip : undefined;
    lines.push(`Via: ${formatViaFilled(top, rport, received)}`);
    for (let i = 1; i < req.via.length; i++) lines.push(`Via: ${formatVia(req.via[i])}`);
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
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
  return body.length === 0 ? head : Buffer.concat([head, body]);
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
