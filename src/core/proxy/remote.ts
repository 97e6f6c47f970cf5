import { SipctlError } from '../errors.js';
import { isRpcError, type RemoteErrorDetails } from '../rpc/rpc-error.js';

/** The proxy's JSON-RPC error details, when `e` is one. */
export function remoteDetails(e: unknown): (RemoteErrorDetails & { url?: string }) | undefined {
  if (!isRpcError(e) || e.category !== 'remote') return undefined;
  return e.details as unknown as RemoteErrorDetails & { url?: string };
}

/** True when `e` is a JSON-RPC error whose message matches `re`. */
export function isRemoteMessage(e: unknown, re: RegExp): boolean {
  const d = remoteDetails(e);
  return d !== undefined && re.test(d.rpcMessage);
}

/**
 * Kamailio's "does not exist" answers, as exit code 3 instead of a generic remote error:
 *   htable: 500 "No such htable", 500 "Key name doesn't exist in htable.", 404 "Key not found in htable."
 *   usrloc: 500 "AOR not found in location table", 500 "Table not found"
 * Anything else passes through unchanged.
 */
export function mapNotFound(e: unknown, what: { table?: string; key?: string; aor?: string }): unknown {
  const d = remoteDetails(e);
  if (!d) return e;
  const m = d.rpcMessage;
  const notFound = (code: string, message: string, hint?: string) =>
    new SipctlError(code, message, { category: 'not-found', hint, details: { rpcCode: d.rpcCode, rpcMessage: d.rpcMessage }, cause: e });
  if (/no such htable/i.test(m)) return notFound('HTABLE_NOT_FOUND', `no htable named ${what.table ?? '?'} on this proxy`, 'list the tables with `sipctl htable list`');
  if (/key name doesn't exist|key not found/i.test(m)) return notFound('HTABLE_KEY_NOT_FOUND', `key ${what.key ?? '?'} not found in htable ${what.table ?? '?'}`);
  if (/AOR not found/i.test(m)) return notFound('AOR_NOT_FOUND', `${what.aor ?? 'AoR'} is not registered`);
  if (/table not found|domain not found/i.test(m)) return notFound('UL_TABLE_NOT_FOUND', `no usrloc table named ${what.table ?? '?'} on this proxy`, 'the usual table is "location"');
  return e;
}

/**
 * True when the proxy answered that it has no such method (Kamailio without the module: 500
 * "Method Not Found"; sipd: -32601 "Method not found") — not for any other failure (a timeout,
 * a refused connection, the method's own error).
 */
export function isMethodNotFound(e: unknown): boolean {
  const d = remoteDetails(e);
  return d !== undefined && (d.rpcCode === -32601 || /method not found/i.test(d.rpcMessage));
}

/** A proxy without the method (isMethodNotFound) as one clear line, exit 6 like any other proxy fault. */
export function mapUnsupported(e: unknown, method: string, hint?: string): unknown {
  if (!isMethodNotFound(e)) return e;
  const d = remoteDetails(e)!;
  return new SipctlError('METHOD_NOT_SUPPORTED', `${method}: method not supported by this proxy`, { category: 'remote', hint, details: { rpcCode: d.rpcCode, rpcMessage: d.rpcMessage }, cause: e });
}
