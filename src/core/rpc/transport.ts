import { badReply, snippet } from './rpc-error.js';

/** A JSON-RPC request object as it goes on the wire (transports may add members, e.g. reply_name). */
export type WireRequest = { jsonrpc: '2.0'; method: string; params?: unknown; id?: number | string | null } & Record<string, unknown>;

/**
 * One way of carrying a JSON-RPC request to the proxy and its reply back. A transport knows
 * nothing of JSON-RPC semantics (ids, error objects): it moves one request, enforces the
 * timeout, cleans up after itself in every outcome, and maps its own failures to RpcErrors.
 */
export interface RpcTransport {
  /**
   * Send one request; resolve with the parsed JSON reply. Rejects only with RpcError.
   * `timeoutMs` overrides the transport's deadline for this call (long dumps, reload retries).
   */
  exchange(request: WireRequest, timeoutMs?: number): Promise<unknown>;
  /** What this transport turned out to be, once known: 'http', 'fifo', 'unix-stream', 'unix-dgram' or 'unix' (not yet known). */
  kind?(): TransportKind;
  /** Release sockets/agents and abort exchanges still in flight. */
  close(): Promise<void>;
}

export type TransportKind = 'http' | 'fifo' | 'unix' | 'unix-stream' | 'unix-dgram';

export interface TransportOptions {
  timeoutMs: number;
  /** The endpoint as shown in messages (credentials masked). */
  display: string;
}

/** Parse a complete reply body; non-JSON becomes RPC_BAD_REPLY. */
export function parseJsonReply(body: Buffer, display: string, extra: Record<string, unknown> = {}): unknown {
  if (body.length === 0) throw badReply(display, 'empty reply', extra);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw badReply(display, `not JSON (${body.length} bytes)`, { ...extra, bodySnippet: snippet(body) }, e);
  }
}
