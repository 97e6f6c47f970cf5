/**
 * Where JSON-RPC requests come from: HTTP (POST to one path, like Kamailio's xhttp + jsonrpcs at
 * http://127.0.0.1:5071/RPC) and a unix STREAM socket (sipd's control socket, created 0600).
 * Both hand the request text to the RpcDispatcher and know nothing of methods.
 *
 * Unix socket protocol, as sipctl's client (src/core/rpc/unix-transport.ts) speaks it: one
 * connection per call; the client writes one JSON value (a newline after it is customary); the
 * server reads until that value closes (JsonFrameScanner) or the client half-closes, writes the
 * response JSON and a newline, and closes. A notification gets no reply: the connection is
 * simply closed.
 *
 * Bounds: a request larger than `maxRequestBytes` is refused (HTTP 413 / -32600 on the socket)
 * without reading the rest; a request must arrive completely within `timeoutMs` of the
 * connection (or of the previous reply on a keep-alive connection), however slowly its bytes
 * trickle — sipd's own deadline per connection, because Node's http server checks its
 * requestTimeout only every connectionsCheckingInterval (30 s by default; issue 18 saw slow
 * connections held 15–29 s against a 10 s limit). HTTP connections are capped per source IP
 * (`maxConnectionsPerSource`, never more than half of `maxConnections`) and in all; when every
 * slot is taken, a new connection closes the least recently active idle one, so one source
 * trickling requests on many connections cannot lock a legitimate client out.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { JsonFrameScanner } from '../../core/rpc/json-frame.js';
import { ConfigError, ConnectionError } from '../../core/errors.js';
import { pickVictim } from '../transport/stream.js';
import { normaliseIp } from '../transport/transport.js';
import type { Logger } from './module.js';
import { RPC_INVALID_REQUEST, RPC_PARSE_ERROR } from './rpc-fault.js';
import type { RpcDispatcher } from './rpc-server.js';

export interface RpcListenerOptions {
  dispatcher: RpcDispatcher;
  log: Logger;
  maxRequestBytes: number;
  timeoutMs: number;
  maxConnections: number;
  /** HTTP only; default: half of maxConnections */
  maxConnectionsPerSource?: number;
  /**
   * HTTP only: a GET (or HEAD) on another path than the RPC's, e.g. the prometheus module's
   * /metrics. Undefined = not ours (404 as before).
   */
  get?(path: string, authorization: string | undefined): { status: number; headers: Record<string, string>; body: string } | undefined;
}

export interface RpcListener {
  /** "http://127.0.0.1:5071/RPC" or "unix:/path", with the port actually bound */
  readonly url: string;
  /** open connections and distinct source addresses (the unix socket counts as one source) */
  connections(): { total: number; sources: number };
  close(): Promise<void>;
}

export type RpcListenAddress = { kind: 'http'; host: string; port: number; path: string } | { kind: 'unix'; path: string };

/** Parse an --rpc-listen value: http://IP:PORT/PATH (IP literal, path default /RPC) or unix:/absolute/path. */
export function parseRpcListen(text: string): RpcListenAddress {
  const t = text.trim();
  if (/^unix:/i.test(t)) {
    let path = t.slice(5);
    if (path.startsWith('//')) path = path.slice(2);
    if (!path.startsWith('/')) throw new ConfigError('RPC_LISTEN_INVALID', `rpc listen ${JSON.stringify(t)}: unix: needs an absolute path`, 'e.g. unix:/run/sipd/sipd.sock');
    if (Buffer.byteLength(path) > 100) throw new ConfigError('RPC_LISTEN_INVALID', `rpc listen ${JSON.stringify(t)}: unix socket path longer than 100 bytes`, 'choose a shorter --state-dir or path');
    return { kind: 'unix', path };
  }
  if (/^http:\/\//i.test(t)) {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw new ConfigError('RPC_LISTEN_INVALID', `rpc listen ${JSON.stringify(t)} is not a URL`, 'e.g. http://127.0.0.1:5071/RPC');
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) === 0) throw new ConfigError('RPC_LISTEN_INVALID', `rpc listen ${JSON.stringify(t)}: host must be an IP address`, 'e.g. http://127.0.0.1:5071/RPC');
    if (u.username || u.password || u.search || u.hash) throw new ConfigError('RPC_LISTEN_INVALID', `rpc listen ${JSON.stringify(t)}: no credentials, query or fragment allowed`);
    const port = u.port === '' ? 5071 : Number(u.port);
    return { kind: 'http', host, port, path: u.pathname === '' || u.pathname === '/' ? '/RPC' : u.pathname };
  }
  throw new ConfigError('RPC_LISTEN_INVALID', `rpc listen ${JSON.stringify(t)}: expected http://IP:PORT/PATH or unix:/path`, 'https is not served: keep the RPC on loopback or a unix socket');
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\./.test(ip) || /^::ffff:127\./i.test(ip);
}

export async function startRpcListener(addr: RpcListenAddress, opts: RpcListenerOptions): Promise<RpcListener> {
  return addr.kind === 'http' ? startHttp(addr, opts) : startUnix(addr.path, opts);
}

// ------------------------------------------------------------------ HTTP

function send(res: http.ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function errorBody(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
}

async function startHttp(addr: Extract<RpcListenAddress, { kind: 'http' }>, opts: RpcListenerOptions): Promise<RpcListener> {
  const { dispatcher, log, maxRequestBytes } = opts;
  const server = http.createServer({ requestTimeout: opts.timeoutMs, headersTimeout: Math.min(opts.timeoutMs, 10_000), keepAliveTimeout: 5_000, maxHeaderSize: 8192, connectionsCheckingInterval: 1000 }, (req, res) => {
    conns.busy(req.socket);
    res.on('finish', () => conns.idle(req.socket));
    const path = (req.url ?? '').split('?')[0];
    if (path !== addr.path && (req.method === 'GET' || req.method === 'HEAD') && opts.get !== undefined) {
      req.resume();
      let r: ReturnType<NonNullable<RpcListenerOptions['get']>>;
      try {
        r = opts.get(path, req.headers.authorization);
      } catch (e) {
        log.error('HTTP GET handler failed', { path: path.slice(0, 64), error: (e as Error).message });
        r = { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'Internal error\n' };
      }
      if (r !== undefined) {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(r.status, { ...r.headers, 'Content-Length': Buffer.byteLength(r.body) });
          res.end(req.method === 'HEAD' ? undefined : r.body);
        }
        return;
      }
    }
    if (path !== addr.path) {
      send(res, 404, errorBody(RPC_INVALID_REQUEST, `Invalid Request: no JSON-RPC at ${JSON.stringify(path.slice(0, 64))}, use ${addr.path}`));
      req.resume();
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, errorBody(RPC_INVALID_REQUEST, 'Invalid Request: use POST'), { Allow: 'POST' });
      req.resume();
      return;
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxRequestBytes) {
      send(res, 413, errorBody(RPC_INVALID_REQUEST, `Invalid Request: larger than ${maxRequestBytes} bytes`), { Connection: 'close' });
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > maxRequestBytes) {
        refused = true;
        send(res, 413, errorBody(RPC_INVALID_REQUEST, `Invalid Request: larger than ${maxRequestBytes} bytes`), { Connection: 'close' });
        res.on('finish', () => req.destroy());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      const text = Buffer.concat(chunks, size); // bytes: the dispatcher refuses invalid UTF-8 (-32700)
      dispatcher.handle(text).then(
        (reply) => (reply === undefined ? (res.writeHead(204), res.end()) : send(res, 200, reply)),
        (e: unknown) => {
          log.error('RPC over HTTP failed', { error: e instanceof Error ? e.message : String(e) });
          send(res, 500, errorBody(-32603, 'Internal error'));
        },
      );
    });
    req.on('error', () => undefined); // the client went away mid-request: nobody to answer, and no fault of sipd's
  });
  const conns = new HttpConnections(opts);
  server.on('connection', (sock: net.Socket) => conns.accept(sock));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new ConnectionError('RPC_LISTEN_FAILED', `cannot listen for RPC on ${addr.host}:${addr.port}: ${e.code ?? e.message}`, { cause: e })));
    server.listen({ host: addr.host, port: addr.port, ipv6Only: net.isIPv6(addr.host) }, () => resolve());
  });
  server.on('error', (e) => log.error('RPC HTTP server error', { error: e.message }));
  const port = (server.address() as net.AddressInfo).port;
  const host = net.isIPv6(addr.host) ? `[${addr.host}]` : addr.host;
  if (!isLoopback(addr.host)) log.warn('JSON-RPC over HTTP listens beyond loopback: it has no authentication', { host: addr.host, port });
  return {
    url: `http://${host}:${port}${addr.path}`,
    connections: () => conns.counts(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface HttpConn {
  sock: net.Socket;
  ip: string;
  /** a request has been read and its reply is not written yet */
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The HTTP listener's connections: per-source and total caps, and the deadline by which the
 * next request must have arrived completely. Map order = least recently active first.
 */
class HttpConnections {
  private readonly open = new Map<net.Socket, HttpConn>();
  private readonly perSource = new Map<string, number>();
  private readonly perSourceCap: number;

  constructor(private readonly opts: Pick<RpcListenerOptions, 'maxConnections' | 'maxConnectionsPerSource' | 'timeoutMs'>) {
    const half = Math.max(1, Math.floor(opts.maxConnections / 2));
    this.perSourceCap = Math.min(opts.maxConnectionsPerSource ?? half, half);
  }

  accept(sock: net.Socket): void {
    const ip = normaliseIp(sock.remoteAddress ?? '');
    const n = this.perSource.get(ip) ?? 0;
    if (n >= this.perSourceCap) return void sock.destroy();
    if (this.open.size >= this.opts.maxConnections) {
      // The least recently active idle connection of the source holding the most makes room
      // (the SIP transports' rule); a newcomer from a source as heavy as any is refused.
      const victim = pickVictim(this.open.values(), this.perSource, n, (c) => c.ip, (c) => !c.busy);
      if (victim === undefined) return void sock.destroy();
      this.forget(victim);
      victim.sock.destroy();
    }
    const c: HttpConn = { sock, ip, busy: false, timer: undefined };
    this.open.set(sock, c);
    this.perSource.set(ip, n + 1);
    this.arm(c);
    sock.once('close', () => this.forget(c));
  }

  private arm(c: HttpConn): void {
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.timer = setTimeout(() => c.sock.destroy(), this.opts.timeoutMs);
  }

  private forget(c: HttpConn): void {
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.timer = undefined;
    if (this.open.get(c.sock) !== c) return;
    this.open.delete(c.sock);
    const left = (this.perSource.get(c.ip) ?? 1) - 1;
    if (left <= 0) this.perSource.delete(c.ip);
    else this.perSource.set(c.ip, left);
  }

  /** A whole request head arrived: no deadline while it is read and answered (the request timeout and body limit still apply). */
  busy(sock: net.Socket): void {
    const c = this.open.get(sock);
    if (c === undefined) return;
    c.busy = true;
  }

  /** Its reply is written: the next request must come within the deadline; most recently active now. */
  idle(sock: net.Socket): void {
    const c = this.open.get(sock);
    if (c === undefined) return;
    c.busy = false;
    this.open.delete(sock);
    this.open.set(sock, c);
    this.arm(c);
  }

  counts(): { total: number; sources: number } {
    return { total: this.open.size, sources: this.perSource.size };
  }
}

// ------------------------------------------------------------------ unix stream socket

/** Remove a stale socket file left by a process that died; refuse when someone still answers on it. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new ConfigError('RPC_LISTEN_INVALID', `${path} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.createConnection({ path });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new ConnectionError('RPC_LISTEN_FAILED', `${path} is in use by a running process (another sipd?)`, { hint: 'stop it first, or use another --state-dir / --rpc-listen' });
  unlinkSync(path);
}

async function startUnix(path: string, opts: RpcListenerOptions): Promise<RpcListener> {
  const { dispatcher, log, maxRequestBytes } = opts;
  await clearStaleSocket(path);
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: a client that half-closes after its request still gets the reply.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    // A total deadline, not an idle timeout: a byte every few seconds must not hold the socket.
    const deadline = setTimeout(() => sock.destroy(), opts.timeoutMs);
    sock.on('close', () => clearTimeout(deadline));
    const scanner = new JsonFrameScanner();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const reply = (text: string | undefined) => {
      if (sock.destroyed) return;
      if (text === undefined) sock.end();
      else sock.end(text + '\n');
    };
    const finish = (body: Buffer) => {
      done = true;
      clearTimeout(deadline);
      sock.setTimeout(opts.timeoutMs, () => sock.destroy()); // a client that does not read its reply
      sock.pause();
      dispatcher.handle(body).then(reply, (e: unknown) => {
        log.error('RPC over unix socket failed', { error: e instanceof Error ? e.message : String(e) });
        reply(errorBody(-32603, 'Internal error'));
      });
    };
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      let end: number;
      try {
        end = scanner.push(chunk);
      } catch {
        done = true;
        reply(errorBody(RPC_PARSE_ERROR, 'Parse error'));
        return;
      }
      const take = end < 0 ? chunk : chunk.subarray(0, end);
      size += take.length;
      if (size > maxRequestBytes) {
        done = true;
        reply(errorBody(RPC_INVALID_REQUEST, `Invalid Request: larger than ${maxRequestBytes} bytes`));
        return;
      }
      chunks.push(take);
      if (end >= 0) finish(Buffer.concat(chunks, size));
    });
    sock.on('end', () => {
      // The client half-closed before its value closed: answer what came (a parse error, usually).
      if (!done) finish(Buffer.concat(chunks, size));
    });
    sock.on('error', () => undefined); // the client's reset: 'close' follows, and there is nobody left to answer
  });
  server.maxConnections = opts.maxConnections;
  // The socket is created 0600: only sipd's own user may drive the proxy.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new ConnectionError('RPC_LISTEN_FAILED', `cannot listen for RPC on unix:${path}: ${e.code ?? e.message}`, { cause: e })));
      server.listen({ path }, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(path, 0o600);
  server.on('error', (e) => log.error('RPC unix server error', { error: e.message }));
  return {
    url: `unix:${path}`,
    connections: () => ({ total: sockets.size, sources: sockets.size > 0 ? 1 : 0 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
