import { RpcError } from './rpc-error.js';

/**
 * Where to send JSON-RPC requests. Accepted forms:
 *   http://host:port/path, https://host:port/path   Kamailio xhttp + jsonrpcs (e.g. http://127.0.0.1:5071/RPC);
 *                                                   user:password@ in the URL is used as basic auth
 *   unix:/path/to/socket  (also unix:///path)       a unix socket: Kamailio's jsonrpcs datagram socket
 *                                                   (kamcmd -j) or sipd's stream control socket
 *   fifo:/path/to/fifo    (also fifo:///path)       Kamailio jsonrpcs FIFO, what kamctl uses
 */
export type RpcEndpoint =
  | { kind: 'http'; url: URL; username?: string; password?: string; display: string }
  | { kind: 'unix'; path: string; display: string }
  | { kind: 'fifo'; path: string; display: string };

const SCHEMES = 'http://, https://, unix:/path or fifo:/path';

export function parseRpcUrl(raw: string): RpcEndpoint {
  const text = raw.trim();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'unix' || scheme === 'fifo') {
    let path = text.slice(scheme.length + 1);
    if (path.startsWith('//')) path = path.slice(2); // unix:///run/x.sock
    if (!path.startsWith('/')) {
      throw new RpcError('RPC_BAD_URL', `${scheme}: URL needs an absolute path, got "${scheme}:${path}"`, {
        hint: `e.g. ${scheme === 'fifo' ? 'fifo:/run/kamailio/kamailio_rpc.fifo' : 'unix:/run/sipd/sipd.sock'}`,
      });
    }
    return { kind: scheme, path, display: `${scheme}:${path}` };
  }
  if (scheme === 'http' || scheme === 'https') {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RpcError('RPC_BAD_URL', `not a valid URL: ${maskUrl(text)}`, { hint: `use ${SCHEMES}` });
    }
    const username = url.username ? decodeURIComponent(url.username) : undefined;
    const password = url.password ? decodeURIComponent(url.password) : undefined;
    url.username = '';
    url.password = '';
    return { kind: 'http', url, username, password, display: maskUrl(text) };
  }
  const shown = scheme ? `"${scheme}:"` : 'none';
  throw new RpcError('RPC_BAD_URL', `unsupported RPC URL scheme ${shown} in ${maskUrl(text)}`, {
    hint: `use ${SCHEMES} (unix: also reaches Kamailio's datagram socket, as kamcmd -j does)`,
  });
}

/**
 * The URL with any password replaced by `***` (also `user:pass@` in unparsable URLs and
 * token-like query parameters), safe for messages and logs.
 */
export function maskUrl(raw: string): string {
  let out = raw.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/@?#]*)@/, (_m, pre: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${pre}${userinfo}@` : `${pre}${userinfo.slice(0, colon)}:***@`;
  });
  out = out.replace(/([?&](?:password|passwd|pass|token|access_token|secret|key)=)[^&#]*/gi, '$1***');
  return out;
}
