import type { RpcClient } from '../rpc/client.js';
import { isRemoteMessage } from './remote.js';

/*
 * Reload RPCs of Kamailio modules that refuse a reload soon after the last one. Generic: used by
 * the trusted, domain, dispatcher and dialplan reloads.
 */

/**
 * A reload RPC, waiting out Kamailio's "ongoing reload" refusal within `budgetMs` instead of
 * failing the script: the permissions module (reload_delta, shared by the address and trusted
 * tables) and the dispatcher module (ds_reload_delta) refuse a reload within 5 s of the last.
 */
export async function reloadWaitingOut(c: RpcClient, method: string, budgetMs: number): Promise<{ reply: unknown; retries: number }> {
  const deadline = Date.now() + budgetMs;
  let retries = 0;
  let pause = 250;
  for (;;) {
    try {
      return { reply: await c.call<unknown>(method), retries };
    } catch (e) {
      if (!isRemoteMessage(e, /ongoing reload/i) || Date.now() + pause >= deadline) throw e;
      retries++;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 1000);
    }
  }
}

/** The warning for reloads that had to wait, one per node. */
export function reloadWarnings(outcomes: Array<{ node: string; ok: boolean; value?: { retries?: number } }>, multi: boolean): string[] {
  const out: string[] = [];
  for (const o of outcomes) if (o.ok && (o.value?.retries ?? 0) > 0) out.push(`${multi ? `${o.node}: ` : ''}the proxy was still busy with an earlier reload ("ongoing reload"); retried ${o.value!.retries} time(s)`);
  return out;
}
