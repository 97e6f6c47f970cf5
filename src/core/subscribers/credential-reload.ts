/**
 * A subscriber change is live on sipd at once. sipd's auth-db keeps the whole subscriber table in
 * memory (daemon/modules/auth-db/credential-cache.ts: no lookup on a miss, so timing never tells
 * which users exist) and reloads it every cache_refresh seconds (60 by default) or on the RPC
 * auth.reloadCredentials. Kamailio reads the database on every request, so kamctl users expect a
 * new, changed or removed subscriber to count at once: after a committed change every caller (the
 * add/passwd/rm/subscriber set/import commands, batch and shell lines, the web console, the library
 * API) asks the proxies of this run for that reload through here.
 *
 * The database change stands whatever the proxies say: a proxy without the method (Kamailio) is
 * fine and silent; an unreachable or failing one is one warning line, never a failure. When no
 * proxy was chosen at all (only the built-in default URL), nothing is ever said.
 */
import type { Session } from '../session.js';
import type { NodeSet } from '../proxy/node-set.js';
import { isMethodNotFound } from '../proxy/remote.js';

export const RELOAD_CREDENTIALS_METHOD = 'auth.reloadCredentials';

/**
 * When a proxy keeps its old credentials. Its own reload interval is not known here (the proxy
 * could not be asked), so the text names the setting and its default rather than a figure.
 */
const UNTIL_RELOADED = 'the proxy keeps the credentials it had until it reloads them (sipd: auth-db cache_refresh, 60 s by default; 0 = only at start or on auth.reloadCredentials)';

/** In a batch, a reload after this many changed subscribers even before the input ends. */
export const CREDENTIAL_RELOAD_EVERY = 1000;

export interface CredentialReloadOptions {
  /** false: the proxies are only the built-in default URL (nobody configured one): stay silent. */
  chosen: boolean;
}

/**
 * auth.reloadCredentials on every node of `nodes`, all at once. Never throws; returns the
 * warnings (one line per node that could not be reloaded).
 */
export async function reloadCredentialsOn(nodes: NodeSet, opts: CredentialReloadOptions): Promise<string[]> {
  const outcomes = await nodes.each((c) => c.call<unknown>(RELOAD_CREDENTIALS_METHOD));
  if (!opts.chosen) return [];
  const warnings: string[] = [];
  for (const o of outcomes) {
    // a proxy without the method (Kamailio) reads the database itself
    if (o.ok || isMethodNotFound(o.error)) continue;
    warnings.push(`${o.node}: the subscriber change is written, but ${RELOAD_CREDENTIALS_METHOD} failed (${o.error.message}); ${UNTIL_RELOADED}`);
  }
  return warnings;
}

/**
 * After a committed subscriber change: reload the credentials of the session's proxies (the
 * configured nodes, --node/--rpc where the caller has them, SIPCTL_RPC, the config file). Never
 * throws: a proxy configuration that cannot be used is a warning too.
 */
export async function reloadSessionCredentials(session: Session): Promise<string[]> {
  let nodes: NodeSet;
  let chosen: boolean;
  try {
    chosen = session.proxiesChosen;
    nodes = session.nodeSet();
  } catch (e) {
    return [`the subscriber change is written, but the proxies could not be asked to reload it (${(e as Error).message}); ${UNTIL_RELOADED}`];
  }
  return reloadCredentialsOn(nodes, { chosen });
}

/** A change result that was committed (not a --dry-run). */
export function committed(change: { dryRun?: boolean } | undefined): boolean {
  return change !== undefined && change.dryRun !== true;
}
