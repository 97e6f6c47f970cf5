/**
 * Incremental framing of one stream connection (TCP, TLS): push bytes as they arrive, get
 * complete messages back. Same rules as frameStream() (parser.ts), which looks at a whole buffer
 * each call and so costs
 * O(buffer) per call; a peer that trickles a message in one-byte segments would make that
 * quadratic. The framer keeps its place instead: bytes are copied once into a buffer that grows
 * by doubling, the search for the end of the headers resumes where it stopped, and once the
 * headers are read the message length is known, so each byte is handled a constant number of
 * times whatever the segmentation.
 */
import type { ParserLimits } from './message.js';
import { resolveLimits, streamContentLength } from './parser.js';
import { SipParseError } from './sip-parse-error.js';

const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export class StreamFramer {
  private readonly limits: ParserLimits;
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** bytes after `start` already searched for CRLFCRLF without success */
  private searched = 0;
  /** offset (from `start`) where the current, unfinished line begins */
  private lineStart = 0;
  /** length of the current message once its headers are complete */
  private total: number | undefined;
  private failed: SipParseError | undefined;
  /** CRLF keep-alive bytes skipped so far (RFC 5626 pings are "\r\n\r\n") */
  keepaliveBytes = 0;
  /** double-CRLF pings seen between messages (RFC 5626 §4.4.1: each is answered with one CRLF) */
  pings = 0;
  /** CRLFs in a row since the last message or ping */
  private crlfRun = 0;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = resolveLimits(limits);
  }

  /** Bytes held for a message not yet complete. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Why the stream can no longer be valid SIP, once that is known (then close the connection). */
  get error(): SipParseError | undefined {
    return this.failed;
  }

  /**
   * Add received bytes; returns the messages they complete, in order. Throws SipParseError when
   * the stream can no longer be valid SIP (the connection should be closed); every later call
   * throws the same error. When complete messages came before the bad bytes in the same chunk,
   * they are returned and the error is only recorded (`error`): a valid request followed by
   * garbage is still answered before the connection is closed (issue 16).
   */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw this.failed;
    this.append(chunk);
    const out: Buffer[] = [];
    try {
      for (;;) {
        const m = this.next();
        if (m === undefined) break;
        out.push(m);
      }
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      this.failed = e;
      if (out.length === 0) throw e;
    }
    return out;
  }

  private append(chunk: Uint8Array): void {
    const needed = this.end - this.start + chunk.length;
    if (this.end + chunk.length > this.buf.length) {
      // Compact, and grow by doubling when compaction is not enough.
      const size = needed > this.buf.length ? Math.max(needed, this.buf.length * 2, 4096) : this.buf.length;
      const next = size === this.buf.length && this.start > 0 ? this.buf : Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.end -= this.start;
      this.start = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  private consume(n: number): void {
    this.start += n;
    this.searched = 0;
    this.lineStart = 0;
    this.total = undefined;
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.buf.length > 2 * this.limits.maxMessageSize) this.buf = Buffer.alloc(0);
    }
  }

  private next(): Buffer | undefined {
    const max = this.limits.maxMessageSize;
    if (this.total === undefined) {
      // CRLFs where a message would start are keep-alives (RFC 3261 §7.5, RFC 5626 §3.5.1).
      while (this.end - this.start >= 2 && this.buf[this.start] === CR && this.buf[this.start + 1] === LF) {
        this.keepaliveBytes += 2;
        this.consume(2);
        if (++this.crlfRun === 2) {
          this.pings++;
          this.crlfRun = 0;
        }
      }
      // A lone CR may be the first half of a CRLF still in flight; anything else starts a message.
      if (this.end > this.start && !(this.end - this.start === 1 && this.buf[this.start] === CR)) this.crlfRun = 0;
      const view = this.buf.subarray(this.start, this.end);
      if (view.length === 0) return undefined;
      const from = Math.max(0, this.searched - 3);
      const idx = view.indexOf(CRLFCRLF, from);
      if (idx === -1) {
        const lf = view.subarray(from).lastIndexOf(LF);
        if (lf !== -1) this.lineStart = from + lf + 1;
        this.searched = view.length;
        if (view.length > max) throw new SipParseError('too-large', `no end of headers within ${max} bytes`);
        if (view.length - this.lineStart > this.limits.maxLineLength + 1) {
          throw new SipParseError('line-too-long', `a line is longer than ${this.limits.maxLineLength} bytes`);
        }
        return undefined;
      }
      // Headers complete: validate them and read Content-Length, once per message.
      const head = idx + 4;
      if (head > max) throw new SipParseError('too-large', `headers exceed ${max} bytes`);
      const cl = streamContentLength(view.subarray(0, head), this.limits);
      if (head + cl > max) throw new SipParseError('too-large', `message of ${head + cl} bytes exceeds ${max}`);
      this.total = head + cl;
    }
    if (this.end - this.start < this.total) return undefined;
    const message = Buffer.from(this.buf.subarray(this.start, this.start + this.total));
    this.consume(this.total);
    return message;
  }
}
