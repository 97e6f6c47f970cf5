import { createFifoTransport } from './fifo-transport.js';
import { createHttpTransport, type RpcAuth } from './http-transport.js';
import { RpcError, badReply, isRpcError, type RemoteErrorDetails } from './rpc-error.js';
import { parseRpcUrl } from './rpc-url.js';
import type { RpcTransport, TransportKind, WireRequest } from './transport.js';
import { createUnixTransport } from './unix-transport.js';

export type { RpcAuth } from './http-transport.js';
export type { TransportKind } from './transport.js';

/** Per-call options. */
export interface CallOptions {
  /** Deadline for this call instead of the client's timeoutMs (dumps of tens of thousands of entries). */
  timeoutMs?: number;
}

export interface RpcClientOptions {
  /** Deadline for one call, from sending to the last byte of the reply. Default 5000. */
  timeoutMs?: number;
  /** HTTP(S) only: basic or bearer auth. Overrides user:password@ in the URL. */
  auth?: RpcAuth;
  /** HTTPS only: PEM file with the CA certificate(s) to trust. */
  caFile?: string;
  /** HTTPS only: skip certificate verification (testing only). */
  insecure?: boolean;
  /** fifo: only: Kamailio's jsonrpcs `fifo_reply_dir`, where the reply FIFO is created. Default /tmp. */
  fifoReplyDir?: string;
  /** unix: datagram sockets only: where the private reply socket directory is made. Default: OS temp dir. */
  dgramReplyDir?: string;
}

export type RpcParams = unknown[] | Record<string, unknown>;

export interface RpcCall {
  method: string;
  params?: RpcParams;
}

/** Outcome of one call in a batch: remote (JSON-RPC) errors are per call. */
export type RpcBatchOutcome<T = unknown> = { ok: true; result: T } | { ok: false; error: RpcError };

export interface RpcClient {
  /**
   * Call one method. Resolves with `result`; rejects with an RpcError: category 'remote'
   * (code RPC_ERROR, details RemoteErrorDetails) when the proxy answered with a JSON-RPC error,
   * otherwise 'connection', 'timeout', 'protocol' or 'usage'.
   */
  call<T = unknown>(method: string, params?: RpcParams, opts?: CallOptions): Promise<T>;
  /**
   * Several calls in order, one request each. Kamailio 5.6 jsonrpcs does not implement JSON-RPC
   * batch arrays (it answers `{"jsonrpc":"2.0","result":{}}` without ids), so this is not a wire
   * batch. A JSON-RPC error fails only its own entry; a transport failure (unreachable, timeout,
   * bad reply) rejects the whole batch, since the calls after it would fail the same way.
   */
  batch(calls: RpcCall[]): Promise<RpcBatchOutcome[]>;
  /** Release connections; later calls fail with RPC_CLIENT_CLOSED. */
  close(): Promise<void>;
  /** The endpoint, with any password masked: safe to print. */
  readonly url: string;
  /** The client's default per-call timeout. */
  readonly timeoutMs: number;
  /**
   * The transport in use: 'http', 'fifo', 'unix-stream', 'unix-dgram', or 'unix' for a unix:
   * URL before its first call (the socket type is found out by connecting).
   */
  kind(): TransportKind;
}

export const DEFAULT_RPC_TIMEOUT_MS = 5000;

/**
 * A JSON-RPC 2.0 client for Kamailio (jsonrpcs over http(s), its FIFO or its datagram socket)
 * and sipd (unix stream socket). See rpc-url.ts for the URL forms. Throws RpcError (usage) for an unusable URL or option.
 */
export function createRpcClient(url: string, opts: RpcClientOptions = {}): RpcClient {
  const endpoint = parseRpcUrl(url);
  const display = endpoint.display;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RpcError('RPC_BAD_OPTION', `timeout must be a positive number of milliseconds, got ${String(opts.timeoutMs)}`);
  }

  let transport: RpcTransport;
  switch (endpoint.kind) {
    case 'http': {
      const auth = opts.auth ?? (endpoint.username !== undefined
        ? { user: endpoint.username, password: endpoint.password ?? '' }
        : undefined);
      transport = createHttpTransport({ url: endpoint.url, display, timeoutMs, auth, caFile: opts.caFile, insecure: opts.insecure });
      break;
    }
    case 'unix':
      transport = createUnixTransport({ path: endpoint.path, display, timeoutMs, dgramReplyDir: opts.dgramReplyDir });
      break;
    case 'fifo':
      transport = createFifoTransport({ path: endpoint.path, display, timeoutMs, replyDir: opts.fifoReplyDir ?? '/tmp' });
      break;
  }

  // One request object per call, the reply checked against its id. A call waits on its own
  // exchange (no library in between: a batch makes thousands of calls); close() fails the calls
  // still waiting with RPC_CLIENT_CLOSED, whatever the transport then does with them.
  let nextId = 1;
  let closed = false;
  const pending = new Set<{ method: string; reject: (e: RpcError) => void }>();
  const closedDuring = (method: string) => new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} was closed during ${method}`);

  function call<T>(method: string, params?: RpcParams, opts?: CallOptions): Promise<T> {
    if (closed) return Promise.reject(new RpcError('RPC_CLIENT_CLOSED', `RPC client for ${display} is closed`));
    if (typeof method !== 'string' || method.length === 0) {
      return Promise.reject(new RpcError('RPC_BAD_PARAM', 'method name must be a non-empty string'));
    }
    if (opts?.timeoutMs !== undefined && (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0)) {
      return Promise.reject(new RpcError('RPC_BAD_OPTION', `timeout must be a positive number of milliseconds, got ${String(opts.timeoutMs)}`));
    }
    const request: WireRequest = { jsonrpc: '2.0', method, params, id: nextId++ };
    return new Promise<T>((resolve, reject) => {
      const entry = { method, reject };
      pending.add(entry);
      let exchange: Promise<unknown>;
      try {
        exchange = transport.exchange(request, opts?.timeoutMs);
      } catch (e) {
        exchange = Promise.reject(e);
      }
      exchange.then(
        (reply) => {
          if (!pending.delete(entry)) return;
          try {
            const r = checkReply(reply, request, display);
            if ('error' in r) reject(remoteError(method, r.error.code, r.error.message, r.error.data, display));
            else resolve(r.result as T);
          } catch (e) {
            reject(isRpcError(e) ? e : badReply(display, e instanceof Error ? e.message : String(e), { method }, e));
          }
        },
        (e: unknown) => {
          if (!pending.delete(entry)) return;
          if (closed) reject(closedDuring(method));
          else reject(isRpcError(e) ? e : badReply(display, e instanceof Error ? e.message : String(e), { method }, e));
        },
      );
    });
  }

  async function batch(calls: RpcCall[]): Promise<RpcBatchOutcome[]> {
    const out: RpcBatchOutcome[] = [];
    for (const c of calls) {
      try {
        out.push({ ok: true, result: await call(c.method, c.params) });
      } catch (e) {
        if (isRpcError(e) && e.category === 'remote') out.push({ ok: false, error: e });
        else throw e;
      }
    }
    return out;
  }

  return {
    call,
    batch,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await transport.close();
      } finally {
        for (const p of pending) p.reject(closedDuring(p.method));
        pending.clear();
      }
    },
    url: display,
    timeoutMs,
    kind: () => transport.kind?.() ?? (endpoint.kind === 'unix' ? 'unix' : endpoint.kind),
  };
}

/** The proxy's JSON-RPC error as an RpcError: `htable.get: No such htable (code 500)`. */
export function remoteError(method: string, code: number, message: string, data: unknown, display: string): RpcError {
  const details: RemoteErrorDetails & { url: string } = { method, rpcCode: code, rpcMessage: message, url: display };
  if (data !== undefined) details.rpcData = data;
  return new RpcError('RPC_ERROR', `${method}: ${message} (code ${code})`, { details: details as unknown as Record<string, unknown> });
}

/** A checked reply: the result, or the proxy's error object. */
type CheckedReply = { result: unknown } | { error: { code: number; message: string; data?: unknown } };

/**
 * A reply must be one JSON-RPC response object for our request: `result`, or an `error` with a
 * numeric code and a string message, and our id. Anything else is a bad reply.
 */
function checkReply(reply: unknown, request: WireRequest, display: string): CheckedReply {
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
    throw badReply(display, Array.isArray(reply) ? 'a JSON array, expected one response object' : `JSON ${reply === null ? 'null' : typeof reply}, expected a response object`);
  }
  const r = reply as Record<string, unknown>;
  if (r.id !== request.id) {
    throw badReply(display, `reply id ${JSON.stringify(r.id) ?? 'missing'} does not match request id ${JSON.stringify(request.id)}`);
  }
  if (r.error !== undefined) {
    const err = r.error as Record<string, unknown> | null;
    if (typeof err !== 'object' || err === null || typeof err.code !== 'number' || typeof err.message !== 'string') {
      throw badReply(display, 'error member is not {code: number, message: string}');
    }
    return { error: { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) } };
  }
  if (!('result' in r)) throw badReply(display, 'response has neither result nor error');
  return { result: r.result };
}
