/**
 * The web console's HTTP(S) server (`sipctl web`): static front end from dist/web/, the JSON API
 * of src/core/web/API.md, login sessions, CSRF, login lockout and the security headers on every
 * response. The API's handlers (routes.ts) call the same core functions and `ops` the commands
 * use, through one core Session (src/core/session.ts) built from the same flags and config.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Session } from '../session.js';
import type { Database } from '../db/database.js';
import { AccountStore } from './accounts.js';
import { SessionStore, sameToken, type WebSession } from './sessions.js';
import { LoginLockout, type LockoutOptions } from './lockout.js';
import { WebError, errorResponse } from './http-errors.js';
import { staticFile, webRoot } from './static-files.js';
import { ROUTES, type ApiResult, type RouteContext } from './routes.js';
import { DashboardFeed } from './dashboard.js';
import { ConfigError, UsageError } from '../errors.js';
import { OneAtATime } from '../one-at-a-time.js';

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
export const COOKIE = 'sipctl_session';
/** Largest JSON request body; SIM vendor files (POST /api/sim/import) may be larger. */
export const MAX_JSON_BODY = 64 * 1024;
export const MAX_UPLOAD_BODY = 32 * 1024 * 1024;
/** Logins being checked or waiting, over all addresses, before more are answered 429 LOGIN_BUSY. */
export const MAX_LOGINS_WAITING = 64;

export interface WebServerOptions {
  /** core Session: configuration, database and proxies, as the CLI commands build it */
  session: Session;
  accounts: AccountStore;
  /** "host:port" (default 127.0.0.1:8088); port 0 = any free port */
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  lockout?: LockoutOptions;
  idleMs?: number;
  /** directory of the built front end (default: dist/web of the package) */
  webRoot?: string;
  /** dashboard/events sampling interval (default 2000 ms) */
  dashboardIntervalMs?: number;
  /** where problems go (not request bodies, never secrets) */
  log?: (line: string) => void;
}

export interface Listen {
  host: string;
  port: number;
}

/** "127.0.0.1:8088", "[::1]:8088", "localhost:8088", ":8088" → host and port. */
export function parseListen(text: string): Listen {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError('BAD_LISTEN', `--listen: "${text}" is not HOST:PORT`, 'e.g. --listen 127.0.0.1:8088 or --listen [::1]:8088');
  const host = m[1] ?? (m[2] || '0.0.0.0');
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host);
}

/** A listen address beyond loopback needs TLS: a usage error (exit 2) otherwise. */
export function checkListen(listen: Listen, tls: boolean): void {
  if (!isLoopback(listen.host) && !tls) {
    throw new UsageError('WEB_TLS_REQUIRED', `--listen ${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port} is not a loopback address and needs --tls-cert and --tls-key`, 'or listen on 127.0.0.1');
  }
}

function cookieOf(req: http.IncomingMessage, name: string): string | undefined {
  const h = req.headers.cookie;
  if (!h) return undefined;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The source address as lockout counts it (an IPv4-mapped IPv6 address is its IPv4 address). */
function sourceIp(req: http.IncomingMessage): string {
  const a = req.socket.remoteAddress ?? 'unknown';
  return a.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/** A raw request path that tries to climb: `..` or `.` segments, also percent-encoded, or backslashes. */
export function climbs(rawPath: string): boolean {
  let p = rawPath;
  for (let i = 0; i < 3 && /%/.test(p); i++) {
    try {
      p = decodeURIComponent(p);
    } catch {
      return true;
    }
  }
  return p.split(/[/\\]/).some((s) => s === '..') || p.includes('\\') || p.includes('\0');
}

export class WebServer {
  readonly sessions: SessionStore;
  readonly lockout: LoginLockout;
  readonly feed: DashboardFeed;
  private server?: http.Server;
  private dbPromise?: Promise<Database>;
  private readonly writes = new OneAtATime();
  private readonly root: string;
  private readonly tls: boolean;
  private readonly listenAt: Listen;
  private readonly log: (line: string) => void;
  private readonly loginChains = new Map<string, Promise<void>>();
  private loginsWaiting = 0;

  constructor(readonly o: WebServerOptions) {
    this.tls = Boolean(o.tlsCert || o.tlsKey);
    if (this.tls && !(o.tlsCert && o.tlsKey)) throw new UsageError('WEB_TLS_INCOMPLETE', '--tls-cert and --tls-key go together');
    this.listenAt = parseListen(o.listen ?? '127.0.0.1:8088');
    checkListen(this.listenAt, this.tls);
    this.sessions = new SessionStore({ idleMs: o.idleMs });
    this.lockout = new LoginLockout(o.lockout);
    this.root = o.webRoot ?? webRoot();
    this.log = o.log ?? ((l) => process.stderr.write(l + '\n'));
    this.feed = new DashboardFeed(o.session, o.dashboardIntervalMs ?? 2000, (l) => this.log(l));
  }

  /** The database, opened once for the server's life (closed by close()). */
  db(): Promise<Database> {
    this.dbPromise ??= this.o.session.openDb();
    return this.dbPromise.catch((e) => {
      this.dbPromise = undefined;
      throw e;
    });
  }

  /** Changes run one at a time (a subscriber add's check-then-insert must not interleave with another). */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.run(fn);
  }

  async listen(): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    let server: http.Server;
    if (this.tls) {
      let cert: Buffer;
      let key: Buffer;
      try {
        cert = readFileSync(this.o.tlsCert!);
        key = readFileSync(this.o.tlsKey!);
      } catch (e) {
        throw new ConfigError('WEB_TLS_UNREADABLE', `cannot read the TLS certificate or key: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      server = https.createServer({ cert, key, minVersion: 'TLSv1.2' }, handler) as unknown as http.Server;
    } else server = http.createServer(handler);
    server.headersTimeout = 20_000;
    server.requestTimeout = 120_000;
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'EADDRINUSE' ? new UsageError('WEB_ADDRESS_IN_USE', `${this.o.listen ?? '127.0.0.1:8088'} is in use`, 'choose another with --listen') : e.code === 'EADDRNOTAVAIL' ? new UsageError('WEB_ADDRESS_UNAVAILABLE', `cannot listen on ${this.listenAt.host}: no such local address`) : e),
      );
      server.listen(this.listenAt.port, this.listenAt.host, () => resolve());
    });
    return this.url();
  }

  url(): string {
    const a = this.server?.address() as AddressInfo | null;
    const port = a?.port ?? this.listenAt.port;
    const h = this.listenAt.host;
    const host = h === '0.0.0.0' || h === '::' ? 'localhost' : h.includes(':') ? `[${h}]` : h;
    return `${this.tls ? 'https' : 'http'}://${host}:${port}/`;
  }

  async close(): Promise<void> {
    this.feed.stop();
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections?.();
      await new Promise<void>((r) => s.close(() => r()));
    }
    const db = this.dbPromise;
    this.dbPromise = undefined;
    // a failed open was answered to the request that made it; a failed close may leave a connection open
    await db?.then((d) => d.close(), () => undefined).catch((e: unknown) => this.log(`sipctl web: closing the database failed: ${(e as Error).message}`));
  }

  private baseHeaders(res: http.ServerResponse, api: boolean): void {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (this.tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    res.setHeader('Cache-Control', api ? 'no-store' : 'no-cache');
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extra });
    res.end(text);
  }

  private sendError(res: http.ServerResponse, e: unknown, where: string): void {
    const r = errorResponse(e);
    if (r.internal) this.log(`sipctl web: ${where}: ${(e as Error)?.stack ?? String(e)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.sendJson(res, r.status, r.body, r.retryAfter ? { 'Retry-After': String(r.retryAfter) } : {});
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const pathOnly = raw.split('?')[0] ?? '/';
    const api = pathOnly.startsWith('/api/') || pathOnly === '/api';
    this.baseHeaders(res, api);
    try {
      if (!this.hostAllowed(req.headers.host)) throw new WebError(421, 'BAD_HOST', 'this console answers only to its loopback address', { hint: 'open it as http://127.0.0.1:PORT/ or http://localhost:PORT/' });
      if (climbs(pathOnly)) throw new WebError(400, 'BAD_PATH', 'path not allowed');
      const url = new URL(raw, 'http://console.invalid');
      if (api) return await this.api(req, res, url);
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new WebError(405, 'METHOD_NOT_ALLOWED', 'method not allowed');
      const f = await staticFile(this.root, url.pathname);
      res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.body.length });
      res.end(req.method === 'HEAD' ? undefined : f.body);
    } catch (e) {
      this.sendError(res, e, `${req.method} ${pathOnly}`);
    }
  }

  /**
   * On loopback, the Host header must name a loopback address: a web page whose own name was
   * made to resolve to 127.0.0.1 (DNS rebinding) is not served. Beyond loopback, TLS and the
   * certificate's names do that job.
   */
  private hostAllowed(host: string | undefined): boolean {
    if (!isLoopback(this.listenAt.host)) return true;
    if (!host) return false;
    const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(host);
    const name = (m?.[1] ?? m?.[2] ?? '').toLowerCase();
    return isLoopback(name) || name === 'localhost.';
  }

  private async readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > max) throw new WebError(413, 'BODY_TOO_LARGE', `request body larger than ${max} bytes`);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req) {
      n += (c as Buffer).length;
      if (n > max) throw new WebError(413, 'BODY_TOO_LARGE', `request body larger than ${max} bytes`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  private async jsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    const buf = await this.readBody(req, MAX_JSON_BODY);
    if (buf.length === 0) return {};
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(type)) throw new WebError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json');
    let v: unknown;
    try {
      v = JSON.parse(buf.toString('utf8'));
    } catch {
      throw new WebError(400, 'BAD_JSON', 'the request body is not valid JSON');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WebError(400, 'BAD_JSON', 'the request body must be a JSON object');
    return v as Record<string, unknown>;
  }

  /** A browser sending Origin must be on this server's origin (defence in depth beside CSRF tokens and SameSite). */
  private checkOrigin(req: http.IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const host = req.headers.host;
    if (!host || (origin !== `http://${host}` && origin !== `https://${host}`)) throw new WebError(403, 'CSRF_ORIGIN', 'request from another origin refused');
  }

  private setSessionCookie(res: http.ServerResponse, value: string, maxAgeSec?: number): void {
    const parts = [`${COOKIE}=${value}`, 'HttpOnly', 'SameSite=Strict', 'Path=/'];
    if (this.tls) parts.push('Secure');
    if (maxAgeSec !== undefined) parts.push(`Max-Age=${maxAgeSec}`);
    res.setHeader('Set-Cookie', parts.join('; '));
  }

  private async api(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const changing = method !== 'GET' && method !== 'HEAD';
    if (changing) this.checkOrigin(req);

    if (path === '/api/login') {
      if (method !== 'POST') throw new WebError(405, 'METHOD_NOT_ALLOWED', 'use POST');
      return this.login(req, res);
    }

    const session = this.sessions.get(cookieOf(req, COOKIE));
    if (path === '/api/session' && method === 'GET') {
      if (!session) throw new WebError(401, 'UNAUTHENTICATED', 'not logged in');
      return this.sendJson(res, 200, { data: { user: session.user, csrf: session.csrf } });
    }
    if (!session) throw new WebError(401, 'UNAUTHENTICATED', 'not logged in');
    // The account may have been removed since login (sipctl web user rm): its sessions end.
    const account = this.o.accounts.get(session.user.name);
    if (!account || account.role !== session.user.role) {
      this.sessions.destroyUser(session.user.name);
      throw new WebError(401, 'UNAUTHENTICATED', 'the account changed; log in again');
    }
    if (changing && !sameToken(req.headers['x-csrf-token'] as string | undefined, session.csrf)) {
      throw new WebError(403, 'CSRF_TOKEN', 'missing or wrong X-CSRF-Token header; nothing was changed', { hint: 'reload the page' });
    }
    if (path === '/api/logout') {
      if (method !== 'POST') throw new WebError(405, 'METHOD_NOT_ALLOWED', 'use POST');
      this.sessions.destroy(session.id);
      this.setSessionCookie(res, '', 0);
      return this.sendJson(res, 200, { data: { loggedOut: true } });
    }
    if (path === '/api/events' && method === 'GET') return this.events(req, res);

    let matched = false;
    for (const r of ROUTES) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      matched = true;
      if (r.method !== method) continue;
      if (r.write && session.user.role !== 'operator') throw new WebError(403, 'FORBIDDEN', `the ${session.user.role} role cannot change anything`);
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) {
        try {
          params[k] = decodeURIComponent(v);
        } catch {
          throw new WebError(400, 'BAD_PATH', 'malformed path');
        }
      }
      const ctx: RouteContext = {
        server: this,
        session: this.o.session,
        user: session.user,
        query: url.searchParams,
        params,
        body: r.upload ? {} : await this.jsonBody(req),
        headers: req.headers,
        raw: r.upload ? () => this.readBody(req, MAX_UPLOAD_BODY) : async () => Buffer.alloc(0),
      };
      const result: ApiResult = r.write ? await this.serialize(() => r.handler(ctx)) : await r.handler(ctx);
      const body: Record<string, unknown> = { data: result.data };
      if (result.warnings?.length) body.warnings = result.warnings;
      if (result.command) body.command = result.command;
      return this.sendJson(res, 200, body);
    }
    if (matched) throw new WebError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`);
    throw new WebError(404, 'NOT_FOUND', `no API endpoint ${path}`);
  }

  private async login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await this.jsonBody(req);
    const name = body.name;
    const password = body.password;
    if (typeof name !== 'string' || typeof password !== 'string' || name === '' || password === '') {
      throw new WebError(400, 'BAD_LOGIN', 'name and password are required');
    }
    const ip = sourceIp(req);
    // One login at a time per source address, so parallel guesses cannot all pass the lockout
    // check before the first failure is counted; and a bounded queue overall (scrypt is costly).
    if (this.loginsWaiting >= MAX_LOGINS_WAITING) throw new WebError(429, 'LOGIN_BUSY', 'too many logins at once; try again', { retryAfter: 1 });
    this.loginsWaiting++;
    const prev = this.loginChains.get(ip) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chain = prev.then(() => mine);
    this.loginChains.set(ip, chain);
    let user: Awaited<ReturnType<AccountStore['verify']>>;
    try {
      await prev;
      const locked = this.lockout.lockedFor(ip, name);
      if (locked > 0) throw new WebError(429, 'LOGIN_LOCKED', `too many failed logins; try again in ${locked} s`, { retryAfter: locked });
      user = await this.o.accounts.verify(name, password);
      if (!user) {
        const now = this.lockout.fail(ip, name);
        // The name is not logged: people type passwords into the name field.
        const known = this.o.accounts.get(name) !== undefined;
        this.log(`sipctl web: failed login from ${ip} (${known ? `account ${name}` : 'no such account'})${now > 0 ? '; logins from there are now locked' : ''}`);
        if (now > 0) throw new WebError(429, 'LOGIN_LOCKED', `too many failed logins; try again in ${now} s`, { retryAfter: now });
        throw new WebError(401, 'BAD_LOGIN', 'wrong name or password');
      }
      this.lockout.success(ip, name);
    } finally {
      this.loginsWaiting--;
      release();
      if (this.loginChains.get(ip) === chain) this.loginChains.delete(ip);
    }
    const old = this.sessions.get(cookieOf(req, COOKIE));
    if (old) this.sessions.destroy(old.id); // a new id at every login (no session fixation)
    const s = this.sessions.create({ name: user.name, role: user.role });
    this.setSessionCookie(res, s.id);
    this.sendJson(res, 200, { data: { user: s.user, csrf: s.csrf } });
  }

  /** Server-sent events: `event: dashboard` with the dashboard snapshot every interval. */
  private events(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(': sipctl web\n\n');
    const sid = cookieOf(req, COOKIE);
    const unsubscribe = this.feed.subscribe((doc) => {
      // the stream ends with its session (logout, idle expiry, account removed)
      const s = this.sessions.peek(sid);
      if (!s || !this.o.accounts.get(s.user.name)) {
        unsubscribe();
        res.end();
        return;
      }
      res.write(`event: dashboard\ndata: ${JSON.stringify(doc)}\n\n`);
    });
    const end = () => unsubscribe();
    req.on('close', end);
    res.on('error', end);
  }
}

export type { WebSession };
