import { SipctlError, type ErrorCategory } from '../errors.js';

/**
 * Stable codes of the RPC client. Each maps to one exit category (see src/cli/exit-codes.ts).
 *
 * | code                   | category   | when |
 * |------------------------|------------|------|
 * | RPC_UNREACHABLE        | connection | refused, no such socket/FIFO, permission denied, nobody reading the FIFO |
 * | RPC_CONNECTION_LOST    | connection | the peer closed the connection before a complete reply |
 * | RPC_TLS_ERROR          | connection | certificate not trusted / name mismatch |
 * | RPC_TIMEOUT            | timeout    | no complete reply within timeoutMs |
 * | RPC_BAD_REPLY          | protocol   | reply is not JSON, not a JSON-RPC response, or answers another id |
 * | RPC_HTTP_ERROR         | protocol   | HTTP status >= 400 without a JSON-RPC body |
 * | RPC_ERROR              | remote     | the proxy answered with a JSON-RPC error object |
 * | RPC_BAD_URL            | usage      | unparsable URL or unsupported scheme |
 * | RPC_DGRAM_UNSUPPORTED  | usage      | unix: points at a datagram socket and the unix-dgram addon is missing |
 * | RPC_REQUEST_TOO_LARGE  | usage      | request exceeds what the transport can carry (Kamailio FIFO: 8 KB, datagram: 64 KB) |
 * | RPC_BAD_OPTION         | usage      | unusable client option (unreadable CA file, bad timeout) |
 * | RPC_CLIENT_CLOSED      | usage      | call() after close() |
 * | RPC_BAD_PARAM          | usage      | kamcmd-style parameter that does not parse (params.ts) |
 */
export type RpcErrorCode =
  | 'RPC_UNREACHABLE'
  | 'RPC_CONNECTION_LOST'
  | 'RPC_TLS_ERROR'
  | 'RPC_TIMEOUT'
  | 'RPC_BAD_REPLY'
  | 'RPC_HTTP_ERROR'
  | 'RPC_ERROR'
  | 'RPC_BAD_URL'
  | 'RPC_DGRAM_UNSUPPORTED'
  | 'RPC_REQUEST_TOO_LARGE'
  | 'RPC_BAD_OPTION'
  | 'RPC_CLIENT_CLOSED'
  | 'RPC_BAD_PARAM';

const CATEGORY: Record<RpcErrorCode, ErrorCategory> = {
  RPC_UNREACHABLE: 'connection',
  RPC_CONNECTION_LOST: 'connection',
  RPC_TLS_ERROR: 'connection',
  RPC_TIMEOUT: 'timeout',
  RPC_BAD_REPLY: 'protocol',
  RPC_HTTP_ERROR: 'protocol',
  RPC_ERROR: 'remote',
  RPC_BAD_URL: 'usage',
  RPC_DGRAM_UNSUPPORTED: 'usage',
  RPC_REQUEST_TOO_LARGE: 'usage',
  RPC_BAD_OPTION: 'usage',
  RPC_CLIENT_CLOSED: 'usage',
  RPC_BAD_PARAM: 'usage',
};

/** Any failure of the RPC client. `message` is one line and never contains credentials. */
export class RpcError extends SipctlError {
  override name = 'RpcError';
  declare readonly code: RpcErrorCode;

  constructor(code: RpcErrorCode, message: string, opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, { category: CATEGORY[code], ...opts });
  }
}

/** For a JSON-RPC error object: `rpcCode` and `rpcMessage` are exactly what the proxy sent. */
export interface RemoteErrorDetails {
  method: string;
  rpcCode: number;
  rpcMessage: string;
  rpcData?: unknown;
}

export function isRpcError(e: unknown): e is RpcError {
  return e instanceof RpcError;
}

const LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const DESCRIBE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  ENXIO: 'no process is reading it',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  ECONNRESET: 'connection reset',
  EPIPE: 'broken pipe',
  ENOTSOCK: 'not a socket',
};

/** One-line description of a system error, without its path/host (the caller names the URL). */
export function describeErrno(e: unknown): string {
  const code = errnoCode(e);
  if (code && DESCRIBE[code]) return `${DESCRIBE[code]} (${code})`;
  if (code) return code;
  return e instanceof Error ? e.message.split('\n')[0] ?? 'unknown error' : String(e);
}

const TLS_CODE = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_SSL_)/;

/**
 * Map a low-level failure (a Node system error) to an RpcError naming `displayUrl` (already masked):
 * TLS failures, connections lost mid-exchange, and everything else (ECONNREFUSED, ENOENT, EACCES,
 * ENOTFOUND, …) as RPC_UNREACHABLE. RpcErrors pass through untouched.
 */
export function toTransportError(e: unknown, displayUrl: string): RpcError {
  if (e instanceof RpcError) return e;
  const code = errnoCode(e);
  if (code && TLS_CODE.test(code)) {
    return new RpcError('RPC_TLS_ERROR', `TLS handshake with ${displayUrl} failed: ${describeErrno(e)}`, {
      hint: 'pass the proxy\'s CA certificate with the CA file option, or (for testing only) disable verification',
      details: { url: displayUrl, errno: code },
      cause: e,
    });
  }
  if (code && LOST_CODES.has(code)) {
    return new RpcError('RPC_CONNECTION_LOST', `connection to ${displayUrl} closed before a complete reply: ${describeErrno(e)}`, {
      details: { url: displayUrl, errno: code },
      cause: e,
    });
  }
  // ECONNREFUSED, ENOENT, EACCES, ENOTFOUND, EHOSTUNREACH, … and anything unforeseen.
  return unreachable(displayUrl, describeErrno(e), { cause: e, errno: code });
}

export function unreachable(displayUrl: string, why: string, opts: { cause?: unknown; errno?: string; hint?: string } = {}): RpcError {
  return new RpcError('RPC_UNREACHABLE', `cannot reach ${displayUrl}: ${why}`, {
    hint: opts.hint ?? 'is the proxy running, and is this the URL its RPC interface listens on?',
    details: { url: displayUrl, ...(opts.errno ? { errno: opts.errno } : {}) },
    cause: opts.cause,
  });
}

export function timeoutError(displayUrl: string, timeoutMs: number, hint?: string): RpcError {
  return new RpcError('RPC_TIMEOUT', `no reply from ${displayUrl} within ${timeoutMs} ms`, {
    hint: hint ?? 'the proxy may be overloaded or stuck; raise the timeout or check its log',
    details: { url: displayUrl, timeoutMs },
  });
}

export function badReply(displayUrl: string, why: string, details: Record<string, unknown> = {}, cause?: unknown): RpcError {
  return new RpcError('RPC_BAD_REPLY', `malformed reply from ${displayUrl}: ${why}`, {
    details: { url: displayUrl, ...details },
    cause,
  });
}

/** A printable, single-line excerpt of a reply body for error details (never the message). */
export function snippet(body: Buffer | string, max = 120): string {
  const text = (typeof body === 'string' ? body : body.subarray(0, max * 4).toString('utf8'))
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? text.slice(0, max) + '…' : text;
}
