import type { RpcClient } from '../rpc/client.js';
import { callMethod, flattenAddressDump, flattenSubnetDump } from '../rpc/methods.js';
import { isRemoteMessage } from './remote.js';

/** What the running proxy has loaded from the address table. */
export interface LoadedAddress {
  group: number;
  ip: string;
  /** Full length (32/128) for exact addresses. */
  mask: number;
  /** 0 = any port. */
  port: number;
  tag: string | null;
  /** Which of Kamailio's tables holds it: exact addresses (addressDump) or subnets (subnetDump). */
  kind: 'address' | 'subnet';
}

/** permissions.addressDump plus permissions.subnetDump: exact entries and subnets, in one list. */
export async function loadedAddresses(c: RpcClient): Promise<LoadedAddress[]> {
  const [addr, subnets] = await Promise.all([callMethod(c, 'permissions.addressDump'), callMethod(c, 'permissions.subnetDump')]);
  const out: LoadedAddress[] = flattenAddressDump(addr).map((r) => ({ ...r, mask: r.ip.includes(':') ? 128 : 32, kind: 'address' as const }));
  for (const r of flattenSubnetDump(subnets)) out.push({ ...r, kind: 'subnet' });
  return out.sort((a, b) => a.group - b.group || a.ip.localeCompare(b.ip) || a.mask - b.mask || a.port - b.port);
}

export interface ReloadResult {
  /** The proxy's answer, "Reload OK". */
  message: string;
  /** How many "ongoing reload" refusals were waited out. */
  retries: number;
  waitedMs: number;
  warnings: string[];
  /** --dry-run: nothing was reloaded. */
  dryRun?: boolean;
}

/**
 * permissions.addressReload, waiting out Kamailio's refusal of a second reload within its
 * reload_delta (5 s by default: `500 ongoing reload`) instead of failing the script: retries
 * with a growing pause until `budgetMs` is used up, then gives the refusal as the error.
 */
export async function reloadAddresses(c: RpcClient, opts: { budgetMs: number; sleep?: (ms: number) => Promise<void> }): Promise<ReloadResult> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const start = Date.now();
  const deadline = start + opts.budgetMs;
  let retries = 0;
  let pause = 250;
  for (;;) {
    try {
      // each attempt gets the normal per-call timeout: a refusal comes back at once, and the
      // budget only decides whether another attempt is worth making
      const message = await c.call<string>('permissions.addressReload');
      const waitedMs = Date.now() - start;
      const warnings = retries > 0 ? [`the proxy was still busy with an earlier reload ("ongoing reload"); waited ${(waitedMs / 1000).toFixed(1)} s and retried ${retries} time(s)`] : [];
      return { message: String(message), retries, waitedMs, warnings };
    } catch (e) {
      if (!isRemoteMessage(e, /ongoing reload/i)) throw e;
      if (Date.now() + pause >= deadline) throw e;
      retries++;
      await sleep(pause);
      pause = Math.min(pause * 2, 1000);
    }
  }
}
