import net from 'node:net';
import { RpcError, badReply, errnoCode, snippet, timeoutError, toTransportError } from './rpc-error.js';

/*
 * A small HTTP/1.1 client for plain-http JSON-RPC POSTs, used instead of node:http because a
 * batch makes thousands of them: node:http's request/agent/parser machinery cost ~0.4 ms of
 * CPU per call on the test machine, more than Kamailio's own work for an htable.sets.
 * One pre-built request head, one write per request, replies parsed in place.
 *
 * Connections: a reply on a connection the server keeps is followed by reuse (sipd, a tuned
 * Kamailio cfg). Kamailio's stock and lab cfgs call set_reply_close() in the xhttp route, so
 * every reply ends its connection; once the client has seen that happen, it opens the
 * connection for the next request while the current one is being answered (a "spare"), so a
 * sequence of calls does not wait for connect/accept each time. Requests are still written one
 * at a time by the caller's order: a spare only carries a request once the caller sends it.
 */

export interface Http1Reply {
  status: number;
  statusMessage: string;
  contentType: string;
  body: Buffer;
}

export interface Http1Options {
  host: string;
  port: number;
  /** Request target, e.g. /RPC. */
  path: string;
  /** Host header value (host[:port], IPv6 in brackets). */
  hostHeader: string;
  authorization?: string;
  display: string;
}

/** In-flight requests at once per client, as node:http's agent allowed (maxSockets 8). */
const MAX_ACTIVE = 8;
/** Idle keep-alive connections kept. */
const MAX_IDLE = 8;
/**
 * A spare older than this is not used: Kamailio's tcp_connection_lifetime (default 120 s) or a
 * server's idle timeout may end it any time; a fresh connect is cheap next to that risk.
 */
const SPARE_MAX_AGE_MS = 5_000;
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Every connection reads into this one buffer, each read copied out before the next: no 64 KB
 * allocation and no readable-stream bookkeeping per read (a batch opens thousands of connections).
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

interface Handler {
  data(chunk: Buffer): void;
  end(): void;
  error(e: Error): void;
}

class Conn {
  readonly sock: net.Socket;
  readonly since = Date.now();
  /** Replies received on this connection. */
  served = 0;
  ended = false;
  failed: Error | undefined;
  handler: Handler | undefined;
  /** Opened ahead of its request (a spare), or kept after a reply: a failure before any reply byte may be the server having closed it. */
  reused = false;

  constructor(host: string, port: number, onIdleEnd: (c: Conn) => void) {
    this.sock = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          this.handler?.data(Buffer.from(buf.subarray(0, n)));
          return true;
        },
      },
    });
    this.sock.on('end', () => {
      this.ended = true;
      if (this.handler) this.handler.end();
      else onIdleEnd(this);
    });
    this.sock.on('error', (e) => {
      this.failed = e;
      this.handler?.error(e);
    });
    this.sock.on('close', () => {
      this.ended = true;
      // closed with a request still waiting (no 'end' or 'error' reached it): report it lost
      this.handler?.error(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }));
    });
  }

  /**
   * Kept or opened ahead, not carrying a request: it must not keep the process alive (a
   * script that never calls close() would otherwise wait for the server to drop it), as
   * node:http's agent unrefs its free sockets.
   */
  waiting(): this {
    this.sock.unref();
    return this;
  }

  inUse(): this {
    this.sock.ref();
    return this;
  }

  usable(): boolean {
    return !this.ended && this.failed === undefined && !this.sock.destroyed;
  }

  destroy(): void {
    this.handler = undefined;
    this.sock.destroy();
  }
}

/** Parses one HTTP/1.x reply from the bytes of one connection. */
class ReplyParser {
  private head: Buffer | undefined;
  private parsed = false;
  status = 0;
  statusMessage = '';
  contentType = '';
  /** Content-Length; -1: chunked; -2: until EOF. */
  private length = -2;
  private chunks: Buffer[] = [];
  bodyBytes = 0;
  /** Bytes of the reply seen so far (head included). */
  seen = 0;
  keepAlive = true;
  done = false;
  /** Bytes that came after the reply (a server that pipelines or misbehaves). */
  extra = false;
  // chunked decoding
  private chunkLeft = 0;
  private chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  private lineBuf = '';

  constructor(private readonly display: string) {}

  /** Feed bytes; throws RpcError for a reply that is not HTTP. */
  push(chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.done) {
      this.extra = true;
      return;
    }
    if (!this.parsed) {
      const buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) throw badReply(this.display, `HTTP header block larger than ${MAX_HEAD_BYTES} bytes`);
        this.head = buf;
        return;
      }
      this.head = undefined;
      this.parseHead(buf.subarray(0, end));
      const rest = buf.subarray(end + 4);
      if (!this.parsed) {
        // an interim 1xx reply: the real one follows
        if (rest.length > 0) this.push(rest);
        return;
      }
      if (rest.length > 0) this.body(rest);
      else if (this.length === 0) this.done = true;
      return;
    }
    this.body(chunk);
  }

  /** The connection ended: complete only if the body runs to EOF. */
  eof(): boolean {
    if (!this.done && this.parsed && this.length === -2) {
      this.done = true;
      this.keepAlive = false;
    }
    return this.done;
  }

  bodyBuffer(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bodyBytes);
  }

  private parseHead(head: Buffer): void {
    const text = head.toString('latin1');
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (!m) throw badReply(this.display, 'not an HTTP reply', { bodySnippet: snippet(head) });
    const status = Number(m[2]);
    if (status >= 100 && status < 200 && status !== 101) return;
    this.status = status;
    this.statusMessage = m[3] ?? '';
    let length: number | undefined;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const c = l.indexOf(':');
      if (c <= 0) continue;
      const name = l.slice(0, c).trim().toLowerCase();
      const value = l.slice(c + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) throw badReply(this.display, `bad Content-Length ${JSON.stringify(value.slice(0, 40))}`);
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = /(^|,)\s*chunked\s*$/i.test(value);
      } else if (name === 'content-type') {
        this.contentType = value;
      } else if (name === 'connection') {
        connection = value.toLowerCase();
      }
    }
    this.keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    if (status === 204 || status === 304) this.length = 0;
    else if (chunked) this.length = -1;
    else if (length !== undefined) this.length = length;
    else {
      this.length = -2;
      this.keepAlive = false;
    }
    this.parsed = true;
  }

  private body(chunk: Buffer): void {
    if (this.length >= 0) {
      const want = this.length - this.bodyBytes;
      const take = chunk.length <= want ? chunk : chunk.subarray(0, want);
      if (take.length > 0) {
        this.chunks.push(take);
        this.bodyBytes += take.length;
      }
      if (this.bodyBytes === this.length) {
        this.done = true;
        if (chunk.length > want) this.extra = true;
      }
      return;
    }
    if (this.length === -2) {
      this.chunks.push(chunk);
      this.bodyBytes += chunk.length;
      return;
    }
    this.chunked(chunk);
  }

  private chunked(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && !this.done) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.chunkLeft, chunk.length - i);
        this.chunks.push(chunk.subarray(i, i + take));
        this.bodyBytes += take;
        this.chunkLeft -= take;
        i += take;
        if (this.chunkLeft === 0) this.chunkState = 'data-crlf';
        continue;
      }
      // line-oriented states: size line, CRLF after data, trailer lines
      const nl = chunk.indexOf(0x0a, i);
      const part = chunk.subarray(i, nl < 0 ? chunk.length : nl).toString('latin1');
      this.lineBuf += part;
      if (this.lineBuf.length > 4096) throw badReply(this.display, 'bad chunked encoding (line too long)');
      if (nl < 0) return;
      i = nl + 1;
      const line = this.lineBuf.replace(/\r$/, '');
      this.lineBuf = '';
      if (this.chunkState === 'data-crlf') {
        if (line !== '') throw badReply(this.display, 'bad chunked encoding (no CRLF after a chunk)');
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const m = /^([0-9a-fA-F]+)\s*(;.*)?$/.exec(line);
        if (!m) throw badReply(this.display, 'bad chunked encoding (chunk size)');
        this.chunkLeft = parseInt(m[1]!, 16);
        this.chunkState = this.chunkLeft === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        this.done = true; // end of trailers
      }
    }
    if (this.done && i < chunk.length) this.extra = true;
  }
}

export class Http1Client {
  private readonly opts: Http1Options;
  private readonly headPrefix: string;
  private readonly idle: Conn[] = [];
  private spare: Conn | undefined;
  /** The server ended a connection right after its first reply (Kamailio's set_reply_close()). */
  private serverCloses = false;
  /** A connection has carried more than one reply: the server keeps connections. */
  private keepsConnections = false;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly open = new Set<Conn>();
  private closed = false;

  constructor(opts: Http1Options) {
    this.opts = opts;
    this.headPrefix = `POST ${opts.path} HTTP/1.1\r\nHost: ${opts.hostHeader}\r\nContent-Type: application/json\r\nAccept: application/json\r\n`
      + (opts.authorization ? `Authorization: ${opts.authorization}\r\n` : '');
  }

  /** POST `body`; resolves with the complete reply. Rejects only with RpcError. */
  async post(body: string, timeoutMs: number): Promise<Http1Reply> {
    const deadline = Date.now() + timeoutMs;
    if (this.active >= MAX_ACTIVE) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await this.attempt(body, deadline, timeoutMs, true);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.open) {
      c.handler?.error(new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${this.opts.display} was closed`));
      c.destroy();
    }
    this.open.clear();
    this.idle.length = 0;
    this.spare = undefined;
  }

  private connect(): Conn {
    const c = new Conn(this.opts.host, this.opts.port, (gone) => this.idleEnded(gone));
    this.open.add(c);
    c.sock.on('close', () => this.open.delete(c));
    return c;
  }

  /** An idle connection (kept after a reply, or a spare) was ended by the server. */
  private idleEnded(c: Conn): void {
    if (c.served === 1 && !this.keepsConnections) this.serverCloses = true;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.spare === c) this.spare = undefined;
    c.destroy();
  }

  /** A connection for the next request: a kept one (after one event-loop turn, see below), the spare, or a new one. */
  private take(): Conn | Promise<Conn> {
    if (this.idle.length === 0) return this.spareOrNew();
    // A server that closes after each reply has usually sent its FIN with the reply, but its
    // 'end' is read only on the next turn of the event loop: let it arrive before reusing.
    return new Promise<Conn>((resolve) => setImmediate(() => {
      while (this.idle.length > 0) {
        const c = this.idle.pop()!;
        if (c.usable()) return resolve(c.inUse());
        c.destroy();
      }
      resolve(this.spareOrNew());
    }));
  }

  private spareOrNew(): Conn {
    const s = this.spare;
    this.spare = undefined;
    if (s && s.usable() && Date.now() - s.since < SPARE_MAX_AGE_MS) return s.inUse();
    s?.destroy();
    return this.connect();
  }

  private async attempt(body: string, deadline: number, timeoutMs: number, mayRetry: boolean): Promise<Http1Reply> {
    if (this.closed) throw new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${this.opts.display} is closed`);
    // the retry of a request whose connection the server had closed goes on a new one
    const taken = mayRetry ? this.take() : this.connect();
    const conn = taken instanceof Conn ? taken : await taken;
    if (this.closed) {
      conn.destroy();
      throw new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${this.opts.display} is closed`);
    }
    const display = this.opts.display;
    const connClose = this.serverCloses;
    return new Promise<Http1Reply>((resolve, reject) => {
      const parser = new ReplyParser(display);
      let settled = false;
      const timer = setTimeout(() => {
        fail(timeoutError(display, timeoutMs, 'check that the proxy is running and its HTTP RPC interface answers on this URL (Kamailio never answers a malformed request)'));
      }, Math.max(0, deadline - Date.now()));

      const done = (reply: Http1Reply): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.handler = undefined;
        conn.served++;
        if (conn.served > 1) this.keepsConnections = true;
        if (parser.keepAlive && !parser.extra && !this.serverCloses && conn.usable() && !this.closed && this.idle.length < MAX_IDLE) {
          conn.reused = true;
          this.idle.push(conn.waiting());
        } else {
          if (conn.ended && conn.served === 1 && !this.keepsConnections) this.serverCloses = true;
          // Closed once the caller had the reply (and may have sent its next request): by
          // then the server's FIN has usually been read too.
          setImmediate(() => conn.destroy());
        }
        resolve(reply);
      };
      const fail = (err: RpcError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.destroy();
        reject(err);
      };
      /** The connection went away before a complete reply. */
      const lost = (e: Error | undefined): void => {
        if (settled) return;
        const code = e ? errnoCode(e) : 'EOF';
        const closedUnused = parser.seen === 0 && (code === 'ECONNRESET' || code === 'EPIPE' || code === 'EOF');
        // the server ended the connection after its first reply, before this request
        if (closedUnused && conn.served === 1 && !this.keepsConnections) this.serverCloses = true;
        // A connection opened ahead or kept from an earlier reply that the server had already
        // closed: the request never reached it, so one retry on a fresh connection is safe
        // (as node:http's agent does for a reused socket).
        if (mayRetry && conn.reused && closedUnused && Date.now() < deadline) {
          settled = true;
          clearTimeout(timer);
          conn.destroy();
          this.attempt(body, deadline, timeoutMs, false).then(resolve, reject);
          return;
        }
        if (e) {
          fail(toTransportError(e, display));
        } else if (parser.seen === 0) {
          fail(toTransportError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), display));
        } else {
          fail(new RpcError('RPC_CONNECTION_LOST', `connection to ${display} closed after ${parser.bodyBytes} bytes of the reply`, { details: { url: display } }));
        }
      };

      conn.handler = {
        data: (chunk) => {
          if (settled) return;
          try {
            parser.push(chunk);
          } catch (e) {
            fail(e instanceof RpcError ? e : toTransportError(e, display));
            return;
          }
          if (parser.done) done({ status: parser.status, statusMessage: parser.statusMessage, contentType: parser.contentType, body: parser.bodyBuffer() });
        },
        end: () => {
          if (settled) return;
          if (parser.eof()) done({ status: parser.status, statusMessage: parser.statusMessage, contentType: parser.contentType, body: parser.bodyBuffer() });
          else lost(undefined);
        },
        error: (e) => lost(e),
      };
      if (conn.failed) {
        lost(conn.failed);
        return;
      }
      if (conn.ended) {
        lost(undefined);
        return;
      }
      const len = Buffer.byteLength(body);
      conn.sock.write(`${this.headPrefix}Content-Length: ${len}\r\n${connClose ? 'Connection: close\r\n' : ''}\r\n${body}`);
      // Kamailio will close this one after its reply: open the next while it works on this.
      if (connClose && !this.spare && !this.closed) {
        const s = this.connect();
        s.reused = true;
        this.spare = s.waiting();
      }
    });
  }
}
