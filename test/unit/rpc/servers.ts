/**
 * Real local servers for the RPC transport tests: a raw TCP server speaking HTTP/1.1 the way
 * Kamailio's xhttp does (writes the recorded bytes, then closes the connection), a unix stream
 * server, and a FIFO server that reads requests with Kamailio's own framing rule.
 */
import { execFileSync } from 'node:child_process';
import { constants as FS, openSync, closeSync, writeSync, statSync, type Stats } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export interface HttpRequestSeen {
  /** Which connection carried it: 1 for the server's first accepted connection. */
  connection: number;
  requestLine: string;
  headers: Record<string, string>;
  body: string;
  json: any;
}

/**
 * What a handler returns: bytes to send then close, 'hang' (never answer), 'close' (drop the
 * connection), bytes on a connection kept open, or pieces written one event-loop turn apart
 * (then closed unless keepOpen).
 */
export type HttpAnswer = Buffer | 'hang' | 'close' | { bytes: Buffer; keepOpen: true } | { pieces: Buffer[]; keepOpen?: boolean };

export interface RawHttpServer {
  url: string;
  port: number;
  seen: HttpRequestSeen[];
  connections: number;
  /** Connections open now. */
  open: number;
  /** Close every open connection, reading nothing more from it (a restart, an idle timeout). */
  endAll(): void;
  close(): Promise<void>;
}

export interface RawHttpServerOptions {
  /** Close the n-th accepted connection (1-based) at once, before reading anything. */
  dropConnection?: (n: number) => boolean;
}

export async function startRawHttpServer(handler: (req: HttpRequestSeen) => HttpAnswer, opts: RawHttpServerOptions = {}): Promise<RawHttpServer> {
  const sockets = new Set<net.Socket>();
  const state = { seen: [] as HttpRequestSeen[], connections: 0 };
  const server = net.createServer((sock) => {
    const connection = ++state.connections;
    sockets.add(sock);
    if (opts.dropConnection?.(connection)) {
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
      sock.end();
      return;
    }
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let closing = false;
    sock.on('data', (chunk) => {
      if (closing) return; // like Kamailio: nothing is read after the reply that closes
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        const len = Number(headers['content-length'] ?? 0);
        if (buf.length < headEnd + 4 + len) return;
        const body = buf.subarray(headEnd + 4, headEnd + 4 + len).toString('utf8');
        buf = buf.subarray(headEnd + 4 + len);
        let json: any;
        try { json = JSON.parse(body); } catch { json = undefined; }
        const req = { connection, requestLine: lines[0]!, headers, body, json };
        state.seen.push(req);
        const answer = handler(req);
        if (answer === 'hang') return;
        if (answer === 'close') { sock.destroy(); return; }
        if (Buffer.isBuffer(answer)) { closing = true; sock.end(answer); return; } // Kamailio: set_reply_close()
        if ('pieces' in answer) {
          const pieces = [...answer.pieces];
          if (!answer.keepOpen) closing = true;
          const next = () => {
            const p = pieces.shift();
            if (p === undefined) {
              if (!answer.keepOpen) sock.end();
              return;
            }
            sock.write(p);
            setTimeout(next, 1);
          };
          next();
          if (!answer.keepOpen) return;
          continue;
        }
        sock.write(answer.bytes);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/RPC`,
    port,
    get seen() { return state.seen; },
    get connections() { return state.connections; },
    get open() { return sockets.size; },
    endAll: () => { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** A TCP port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface UnixServer {
  path: string;
  close(): Promise<void>;
}

/** Stream unix server: `onRequest(line, sock)` gets each newline-terminated request. */
export async function startUnixServer(path: string, onRequest: (request: any, sock: net.Socket) => void): Promise<UnixServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    sock.on('data', (c) => {
      buf += c.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onRequest(JSON.parse(line), sock);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

export function mkfifo(path: string, mode = '600'): void {
  execFileSync('mkfifo', ['-m', mode, path]);
}

export interface FifoRequestSeen {
  /** The document exactly as framed by Kamailio's reader (trimmed). */
  raw: string;
  json: any;
  replyName: string;
  /** stat() of the reply FIFO when the server found it. */
  replyStat?: Stats;
}

/** What the fake proxy does with a request: reply bytes, or 'ignore' (read it, never answer). */
export type FifoAnswer = Buffer | 'ignore';

export interface FakeKamailioFifo {
  path: string;
  seen: FifoRequestSeen[];
  close(): Promise<void>;
}

/**
 * Kamailio's jsonrpcs FIFO process, in miniature: creates the FIFO, keeps a write end open so
 * the read end never sees EOF, frames documents with the same quote/brace counting as
 * jsonrpc_read_stream() (a `"` preceded by a backslash does not toggle the string state),
 * checks `reply_name` like jsonrpc_open_reply_fifo() (no '.', '/', '\\'), and writes the reply
 * to <replyDir>/<reply_name> opened non-blocking, retrying ENXIO 4 times at 80 ms.
 */
export async function startFakeKamailioFifo(dir: string, replyDir: string, answer: (req: FifoRequestSeen) => FifoAnswer): Promise<FakeKamailioFifo> {
  const path = join(dir, 'kamailio_rpc.fifo');
  mkfifo(path, '660');
  const readFd = openSync(path, FS.O_RDONLY | FS.O_NONBLOCK);
  const keepFd = openSync(path, FS.O_WRONLY | FS.O_NONBLOCK);
  const sock = new net.Socket({ fd: readFd, readable: true, writable: false });
  const seen: FifoRequestSeen[] = [];
  // jsonrpc_read_stream state
  let doc: number[] = [];
  let sstate = 0, stype = 0, pcount = 0, pfound = 0;
  const queue: FifoRequestSeen[] = [];
  let busy = false;

  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const req = queue.shift()!;
      const reply = answer(req);
      if (reply === 'ignore') continue;
      const rpath = join(replyDir, req.replyName);
      let fd = -1;
      for (let retries = 4; ; retries--) {
        try {
          fd = openSync(rpath, FS.O_WRONLY | FS.O_NONBLOCK);
          break;
        } catch (e: any) {
          if (e.code !== 'ENXIO' || retries === 0) break;
          await new Promise((r) => setTimeout(r, 80));
        }
      }
      if (fd < 0) continue; // Kamailio: "cannot open reply fifo", moves on
      req.replyStat = statSync(rpath);
      await writeBlocking(fd, reply);
      closeSync(fd);
    }
    busy = false;
  };

  sock.on('data', (chunk: Buffer) => {
    for (const c of chunk) {
      const prev = doc.length > 0 ? doc[doc.length - 1] : undefined;
      if (c === 0x22 && (sstate === 0 || stype === 1)) {
        if (prev === undefined || prev !== 0x5c) { sstate = (sstate + 1) % 2; stype = 1; }
      } else if (c === 0x27 && (sstate === 0 || stype === 2)) {
        if (prev === undefined || prev !== 0x5c) { sstate = (sstate + 1) % 2; stype = 2; }
      } else if (c === 0x7b) {
        if (sstate === 0) { pfound = 1; pcount++; }
      } else if (c === 0x7d) {
        if (sstate === 0) pcount--;
      }
      doc.push(c);
      if (pfound === 1 && pcount === 0) {
        const raw = Buffer.from(doc).toString('utf8').trim();
        doc = []; sstate = 0; stype = 0; pcount = 0; pfound = 0;
        let json: any;
        try { json = JSON.parse(raw); } catch { json = undefined; }
        const replyName = json?.reply_name;
        const req: FifoRequestSeen = { raw, json, replyName };
        seen.push(req);
        if (typeof replyName === 'string' && !/[./\\]/.test(replyName)) queue.push(req);
      }
    }
    void pump();
  });

  return {
    path,
    seen,
    close: async () => {
      sock.destroy();
      closeSync(keepFd);
    },
  };
}

/** Write all of `data` to a non-blocking fd, waiting out EAGAIN (a reader drains the pipe). */
async function writeBlocking(fd: number, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, Math.min(65536, data.length - off));
    } catch (e: any) {
      if (e.code !== 'EAGAIN') return; // reader went away (EPIPE): Kamailio logs and moves on
      await new Promise((r) => setImmediate(r));
    }
  }
}
