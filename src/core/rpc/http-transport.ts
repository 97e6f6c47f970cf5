import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { Http1Client } from './http1.js';
import { RpcError, badReply, errnoCode, describeErrno, snippet, timeoutError, toTransportError } from './rpc-error.js';
import type { RpcTransport, TransportOptions, WireRequest } from './transport.js';

export type RpcAuth = { user: string; password: string } | { bearer: string };

export interface HttpTransportOptions extends TransportOptions {
  /** Endpoint without credentials. */
  url: URL;
  auth?: RpcAuth;
  /** PEM file with the CA certificate(s) to trust for https. */
  caFile?: string;
  /** Do not verify the server certificate (testing only). */
  insecure?: boolean;
}

/**
 * JSON-RPC over HTTP(S) as Kamailio's xhttp + jsonrpcs serve it:
 * POST the request, read the whole body, then decide.
 *
 * Kamailio puts the JSON-RPC error code in the status line too (`HTTP/1.1 500 No such htable`
 * with a JSON-RPC error body), so a body that is a JSON-RPC response wins over the status:
 * it goes back to the client, which reports the remote error. Only a status >= 400 without
 * such a body is an HTTP error. Malformed JSON gets no reply at all from Kamailio, hence the
 * hard deadline covering connect, request and the whole body.
 *
 * The reply is collected as a list of chunks and concatenated once, so tens of MB
 * (ul.dump with 100,000 contacts) cost one copy.
 *
 * Plain http goes through Http1Client (http1.ts: one write per request, a connection opened
 * ahead while Kamailio answers); https through node:https with a keep-alive agent.
 */
export function createHttpTransport(opts: HttpTransportOptions): RpcTransport {
  const { url, display, timeoutMs } = opts;
  const isHttps = url.protocol === 'https:';
  let ca: Buffer | undefined;
  if (opts.caFile !== undefined) {
    try {
      ca = readFileSync(opts.caFile);
    } catch (e) {
      throw new RpcError('RPC_BAD_OPTION', `cannot read CA file ${opts.caFile}: ${describeErrno(e)}`, { cause: e });
    }
  }
  if (!isHttps) return createPlainHttpTransport(opts);
  // Kamailio's stock xhttp route calls set_reply_close(), so its connections do not survive a
  // reply; keep-alive still pays off against servers that keep them (sipd), and a stale pooled
  // socket is retried once below.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca, rejectUnauthorized: !opts.insecure });
  const authorization = authHeader(opts.auth);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literal without brackets

  function attempt(body: string, deadline: number, mayRetry: boolean, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let responded = false;
      const headers: Record<string, string | number> = {
        'content-type': 'application/json',
        accept: 'application/json',
        'content-length': Buffer.byteLength(body),
      };
      if (authorization) headers.authorization = authorization;
      const req = https.request({
        protocol: url.protocol,
        hostname,
        port: url.port || 443,
        path: url.pathname + url.search,
        method: 'POST',
        agent,
        headers,
      });
      const finish = (err: RpcError | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value);
      };
      const timer = setTimeout(() => {
        finish(timeoutError(display, timeoutMs, 'check that the proxy is running and its HTTP RPC interface answers on this URL (Kamailio never answers a malformed request)'));
        req.destroy();
      }, Math.max(0, deadline - Date.now()));

      req.on('error', (e) => {
        if (settled) return;
        // A pooled keep-alive socket the server closed in the meantime: the request never
        // reached it, so one retry on a fresh connection is safe (Node's documented pattern).
        if (mayRetry && !responded && req.reusedSocket && errnoCode(e) === 'ECONNRESET' && Date.now() < deadline) {
          settled = true;
          clearTimeout(timer);
          attempt(body, deadline, false, timeoutMs).then(resolve, reject);
          return;
        }
        finish(toTransportError(e, display));
      });
      req.on('response', (res: IncomingMessage) => {
        responded = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (e) => finish(toTransportError(e, display)));
        res.on('close', () => {
          if (!res.complete) finish(new RpcError('RPC_CONNECTION_LOST', `connection to ${display} closed after ${size} bytes of the reply`, { details: { url: display } }));
        });
        res.on('end', () => {
          try {
            finish(null, classify({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', contentType: String(res.headers['content-type'] ?? '') }, Buffer.concat(chunks, size), display));
          } catch (e) {
            finish(toTransportError(e, display));
          }
        });
      });
      req.end(body);
    });
  }

  return {
    exchange: (request: WireRequest, callTimeoutMs?: number) => {
      const t = callTimeoutMs ?? timeoutMs;
      return attempt(JSON.stringify(request), Date.now() + t, true, t);
    },
    kind: () => 'http',
    async close() {
      agent.destroy();
    },
  };
}

function createPlainHttpTransport(opts: HttpTransportOptions): RpcTransport {
  const { url, display, timeoutMs } = opts;
  const client = new Http1Client({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'), // IPv6 literal without brackets
    port: Number(url.port || 80),
    path: url.pathname + url.search,
    hostHeader: url.host,
    authorization: authHeader(opts.auth),
    display,
  });
  return {
    exchange: async (request: WireRequest, callTimeoutMs?: number) => {
      const reply = await client.post(JSON.stringify(request), callTimeoutMs ?? timeoutMs);
      return classify(reply, reply.body, display);
    },
    kind: () => 'http',
    async close() {
      client.close();
    },
  };
}

function authHeader(auth: RpcAuth | undefined): string | undefined {
  if (!auth) return undefined;
  if ('bearer' in auth) return `Bearer ${auth.bearer}`;
  return 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64');
}

function isJsonRpcResponse(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return 'result' in o || (typeof o.error === 'object' && o.error !== null);
}

const STATUS_HINTS: Record<number, string> = {
  401: 'the proxy wants credentials: set the RPC user and password (or a bearer token)',
  403: 'the proxy refused this client: check the port (Kamailio\'s xhttp route answers 403 on other ports) and the allowed source addresses',
  404: 'check the URL path (Kamailio\'s jsonrpcs is usually served at /RPC)',
};

interface ReplyHead {
  status: number;
  statusMessage: string;
  contentType: string;
}

function classify(res: ReplyHead, body: Buffer, display: string): unknown {
  const { status, contentType } = res;
  let parsed: unknown;
  let isJson = false;
  if (body.length > 0) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
      isJson = true;
    } catch {
      // not JSON: classified below by status (HTTP error) or as a bad reply
      isJson = false;
    }
  }
  if (isJson && isJsonRpcResponse(parsed)) return parsed;
  const details = { url: display, httpStatus: status, contentType, bytes: body.length, bodySnippet: snippet(body) };
  if (status < 200 || status >= 300) {
    const reason = res.statusMessage ? ` ${res.statusMessage}` : '';
    throw new RpcError('RPC_HTTP_ERROR', `HTTP ${status}${reason} from ${display}`, { hint: STATUS_HINTS[status], details });
  }
  if (!isJson) {
    throw badReply(display, body.length === 0 ? 'empty HTTP body' : `not JSON (${contentType || 'no content-type'}, ${body.length} bytes)`, details);
  }
  return parsed; // JSON but not a JSON-RPC response: the client reports it as a bad reply
}
