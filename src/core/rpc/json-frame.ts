import { badReply, toTransportError, type RpcError } from './rpc-error.js';
import { parseJsonReply } from './transport.js';

/**
 * Finds where one top-level JSON object or array ends in a byte stream, without parsing it.
 * Stream transports (unix:) use it to know a reply is complete while the connection stays open;
 * it works for compact and pretty-printed (Kamailio `pretty_format`) JSON alike and is O(n)
 * over the bytes, so a tens-of-MB ul.dump costs one pass.
 *
 * Only the structure is tracked: depth of {} / [], string state and backslash escapes.
 * UTF-8 continuation bytes are >= 0x80 and never collide with the ASCII delimiters.
 */
export class JsonFrameScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  private done = false;
  private total = 0;

  /**
   * Feed the next chunk. Returns the index inside `chunk` just past the end of the top-level
   * value, or -1 if the value is not complete yet. Throws on bytes that cannot start a
   * JSON object/array (the caller maps that to a bad-reply error).
   */
  push(chunk: Uint8Array): number {
    if (this.done) throw new Error('JsonFrameScanner: value already complete');
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      this.total++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (!this.started) {
        if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
        if (c !== 0x7b /* { */ && c !== 0x5b /* [ */) {
          throw new Error(`reply does not start with a JSON object or array (byte 0x${c.toString(16).padStart(2, '0')} at offset ${this.total - 1})`);
        }
        this.started = true;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        this.depth--;
        if (this.depth === 0) {
          this.done = true;
          return i + 1;
        }
        if (this.depth < 0) throw new Error('unbalanced closing bracket in reply');
      }
    }
    return -1;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.total;
  }
}

/** How a stream transport settles one call: an error, or null and the parsed reply. */
export type SettleReply = (err: RpcError | null, value?: unknown) => void;

/**
 * One JSON reply read from a byte stream: the unix stream socket and the FIFO both read their
 * replies this way. Chunks are kept up to the end of the top-level value (bytes after it are
 * dropped) and concatenated once, when the reply is parsed.
 */
export class JsonReplyReader {
  private readonly scanner = new JsonFrameScanner();
  private readonly chunks: Buffer[] = [];
  /** Bytes kept so far. */
  size = 0;

  constructor(private readonly display: string) {}

  /**
   * Keep the next chunk. Once the value is complete the call is settled with it; bytes that
   * cannot be a JSON reply settle it with RPC_BAD_REPLY.
   */
  feed(chunk: Buffer, finish: SettleReply): void {
    let end: number;
    try {
      end = this.scanner.push(chunk);
    } catch (e) {
      finish(badReply(this.display, (e as Error).message));
      return;
    }
    const part = end < 0 ? chunk : chunk.subarray(0, end);
    this.chunks.push(part);
    this.size += part.length;
    if (end >= 0) this.settle(finish);
  }

  /** Settle the call with what was kept, complete or not (an incomplete value is RPC_BAD_REPLY). */
  settle(finish: SettleReply): void {
    try {
      finish(null, parseJsonReply(Buffer.concat(this.chunks, this.size), this.display));
    } catch (e) {
      finish(toTransportError(e, this.display));
    }
  }
}
