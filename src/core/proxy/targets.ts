import type { ResolvedConfig } from '../config/config.js';
import { UsageError } from '../errors.js';
import { maskUrl, parseRpcUrl } from '../rpc/rpc-url.js';

/** One proxy sipctl talks to: a name for people (and the JSON) and the URL it is reached at. */
export interface ProxyNode {
  /** The configured node name, or the masked URL for a node given by URL. */
  name: string;
  /** The RPC URL; may carry user:password@ (never printed: use `display`). */
  url: string;
  /** The URL with any password masked. */
  display: string;
}

export interface TargetSelection {
  /** --node NAME (repeatable, or comma-separated); `all` selects every configured node. */
  node?: string[];
}

/**
 * Which proxies a command talks to:
 *  1. --node NAME …            the named entries of `nodes` (`all` = every one);
 *  2. --rpc URL … (flag)       those URLs (a value without a scheme may name a node);
 *  3. SIPCTL_RPC (env)         those URLs;
 *  4. `nodes` in the config    every configured node;
 *  5. `rpc` in the config, else the built-in default http://127.0.0.1:5071/RPC.
 * Every URL is checked before anything is sent, so a typo never half-applies a change.
 */
export function resolveTargets(rc: ResolvedConfig, sel: TargetSelection = {}): ProxyNode[] {
  const nodes = rc.values.nodes ?? {};
  const names = Object.keys(nodes);
  const byName = (name: string): ProxyNode => {
    const url = nodes[name];
    if (url === undefined) {
      throw new UsageError('UNKNOWN_NODE', `no node named "${name}" is configured`, names.length ? `configured nodes: ${names.join(', ')} (or all)` : 'define nodes in the config file: "nodes": {"name": "http://host:5071/RPC"}');
    }
    return node(name, url);
  };

  const requested = (sel.node ?? []).flatMap((n) => n.split(',')).map((n) => n.trim()).filter(Boolean);
  let out: ProxyNode[];
  if (requested.length > 0) {
    out = requested.includes('all') ? names.map(byName) : requested.map(byName);
    if (out.length === 0) throw new UsageError('UNKNOWN_NODE', '--node all: no nodes are configured');
  } else {
    const source = rc.sources.rpc?.source;
    if ((source === 'flag' || source === 'env') || names.length === 0) {
      out = rc.values.rpc.map((u) => (!/^[a-z][a-z0-9+.-]*:/i.test(u) && nodes[u] !== undefined ? byName(u) : node(undefined, u)));
    } else {
      out = names.map(byName);
    }
  }
  if (out.length === 0) throw new UsageError('NO_RPC_URL', 'no RPC endpoint configured', 'give --rpc URL, SIPCTL_RPC, or "rpc"/"nodes" in the config file');
  // The same node twice would get every change twice.
  const seen = new Set<string>();
  return out.filter((n) => (seen.has(n.url) ? false : (seen.add(n.url), true)));
}

function node(name: string | undefined, url: string): ProxyNode {
  parseRpcUrl(url); // throws RPC_BAD_URL (usage) with a hint
  const display = maskUrl(url);
  return { name: name ?? display, url, display };
}
