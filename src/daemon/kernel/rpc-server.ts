/**
 * The JSON-RPC 2.0 server: request text in, response text out. It knows nothing of HTTP or
 * sockets (habit 9): rpc-http.ts and rpc-unix.ts feed it.
 *
 * Built on json-rpc-2.0's JSONRPCServer, with three of its defaults replaced:
 * - requests are checked here first (jsonrpc "2.0", method a string, params an array or object,
 *   id a string, number or null): the library's own check would accept `"method": 5` and throw
 *   on a `null` batch element;
 * - a batch is answered with an array even when it holds one call (the library unwraps it), and
 *   is capped at `maxBatch` calls;
 * - its error mapping, which copies any exception's message into the reply with code 0, is
 *   replaced: RpcFault / JSONRPCErrorException keep their code and message, so does a SipctlError
 *   of category remote carrying details { rpcCode, rpcMessage } (how the permissions, usrloc and
 *   stats modules raise Kamailio's faults), a SipctlError of category usage becomes -32602 with
 *   its message (our own text), and anything else becomes -32603 "Internal error" with the
 *   details only in the log.
 *
 * Method lookup goes through ModuleRegistry's Map, so "__proto__" and "constructor" are simply
 * unknown (-32601).
 */
import { JSONRPCServer, JSONRPCErrorException, createJSONRPCErrorResponse, type JSONRPCErrorResponse, type JSONRPCID, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';
import { isSipctlError } from '../../core/errors.js';
import type { Logger } from './module.js';
import type { ModuleRegistry } from './module-registry.js';
import { RPC_INTERNAL_ERROR, RPC_INVALID_PARAMS, RPC_INVALID_REQUEST, RPC_METHOD_NOT_FOUND, RPC_PARSE_ERROR } from './rpc-fault.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface RpcDispatcherOptions {
  /** most calls in one batch array; default 100 */
  maxBatch?: number;
  log: Logger;
}

export class RpcDispatcher {
  private readonly server: JSONRPCServer<void>;
  private readonly maxBatch: number;
  private readonly log: Logger;
  /** calls answered, by outcome (sipd's own counters) */
  readonly counts = { calls: 0, errors: 0, internal: 0 };

  constructor(private readonly registry: ModuleRegistry, opts: RpcDispatcherOptions) {
    this.maxBatch = opts.maxBatch ?? 100;
    this.log = opts.log;
    this.server = new JSONRPCServer<void>({ errorListener: () => undefined });
    // Every call goes to the registry: methods added after construction are found too.
    this.server.applyMiddleware(async (_next, request) => this.call(request));
    this.server.mapErrorToJSONRPCErrorResponse = (id: JSONRPCID, error: unknown) => this.mapError(id, error, '(middleware)');
  }

  /**
   * One HTTP body or unix-socket request (its bytes, or text already decoded). Returns the response JSON, or undefined when nothing
   * is to be sent back (only notifications).
   */
  async handle(input: string | Buffer): Promise<string | undefined> {
    let payload: unknown;
    try {
      // Bytes are decoded strictly: invalid UTF-8 is a parse error, not a request run with
      // U+FFFD where the caller's bytes were (a name or key that silently differs).
      payload = JSON.parse(typeof input === 'string' ? input : strictUtf8.decode(input));
    } catch {
      return stringify(createJSONRPCErrorResponse(null, RPC_PARSE_ERROR, 'Parse error'));
    }
    if (Array.isArray(payload)) {
      if (payload.length === 0) return stringify(createJSONRPCErrorResponse(null, RPC_INVALID_REQUEST, 'Invalid Request'));
      if (payload.length > this.maxBatch) {
        return stringify(createJSONRPCErrorResponse(null, RPC_INVALID_REQUEST, `Invalid Request: batch of ${payload.length} calls, at most ${this.maxBatch}`));
      }
      const out: JSONRPCResponse[] = [];
      // In order, one at a time: a batch of writes behaves like the same calls sent one by one.
      for (const item of payload) {
        const r = await this.single(item);
        if (r !== null) out.push(r);
      }
      return out.length === 0 ? undefined : stringify(out);
    }
    const r = await this.single(payload);
    return r === null ? undefined : stringify(r);
  }

  private async single(item: unknown): Promise<JSONRPCResponse | null> {
    const invalid = checkRequest(item);
    if (invalid !== undefined) return invalid;
    const request = item as JSONRPCRequest;
    const response = await this.server.receive(request);
    if (response !== null && response !== undefined && 'error' in response && response.error) this.counts.errors++;
    return response ?? null;
  }

  private async call(request: JSONRPCRequest): Promise<JSONRPCResponse | null> {
    this.counts.calls++;
    const id = request.id;
    const method = this.registry.lookup(request.method);
    if (method === undefined) {
      return id === undefined ? null : createJSONRPCErrorResponse(id, RPC_METHOD_NOT_FOUND, 'Method not found');
    }
    let result: unknown;
    try {
      result = await method.handler(request.params as never);
    } catch (e) {
      return id === undefined ? null : this.mapError(id, e, request.method);
    }
    if (id === undefined) return null;
    // A result JSON cannot carry (BigInt, a cycle) is a bug in the handler, not the caller's fault.
    try {
      JSON.stringify(result);
    } catch (e) {
      return this.mapError(id, e, request.method);
    }
    return { jsonrpc: '2.0', id, result: result === undefined ? null : result };
  }

  private mapError(id: JSONRPCID, error: unknown, method: string): JSONRPCErrorResponse {
    if (error instanceof JSONRPCErrorException && Number.isSafeInteger(error.code) && typeof error.message === 'string') {
      return createJSONRPCErrorResponse(id, error.code, error.message, error.data);
    }
    // A module's deliberate fault as a SipctlError: category remote, details { rpcCode, rpcMessage }.
    if (isSipctlError(error) && error.category === 'remote') {
      const code = error.details?.rpcCode;
      const message = error.details?.rpcMessage;
      if (typeof code === 'number' && Number.isSafeInteger(code) && typeof message === 'string') return createJSONRPCErrorResponse(id, code, message);
    }
    if (isSipctlError(error) && error.category === 'usage') {
      return createJSONRPCErrorResponse(id, RPC_INVALID_PARAMS, error.message);
    }
    this.counts.internal++;
    this.log.error('RPC method failed', {
      method: method.slice(0, 128),
      error: error instanceof Error ? error.message : String(error),
      ...(error instanceof Error && error.stack ? { stack: error.stack.split('\n').slice(0, 6).join(' | ') } : {}),
    });
    return createJSONRPCErrorResponse(id, RPC_INTERNAL_ERROR, 'Internal error');
  }
}

function isId(v: unknown): v is JSONRPCID {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || v === null;
}

/** undefined when `item` is a well-formed request; else the -32600 response to send. */
function checkRequest(item: unknown): JSONRPCResponse | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return createJSONRPCErrorResponse(null, RPC_INVALID_REQUEST, 'Invalid Request');
  const r = item as Record<string, unknown>;
  const hasId = Object.prototype.hasOwnProperty.call(r, 'id');
  const id = hasId && isId(r.id) ? r.id : null;
  const bad = (why: string) => createJSONRPCErrorResponse(id, RPC_INVALID_REQUEST, `Invalid Request: ${why}`);
  if (r.jsonrpc !== '2.0') return bad('"jsonrpc" must be "2.0"');
  if (hasId && !isId(r.id)) return bad('"id" must be a string, a number or null');
  if (typeof r.method !== 'string') return bad('"method" must be a string');
  if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null)) return bad('"params" must be an array or an object');
  return undefined;
}

function stringify(v: unknown): string {
  return JSON.stringify(v);
}
