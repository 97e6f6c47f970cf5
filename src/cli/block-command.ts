/** What `block add` and `block rm` share: write the mtree table, then have every proxy reload it. */
import type { Command } from '@oclif/core';
import { reloadBlocked } from '../core/block/blocklist.js';
import { SipctlError } from '../core/errors.js';
import { nodesError } from '../core/proxy/node-set.js';
import { RpcCommand, envelope, type ProxyEnvelope } from './rpc-support.js';

export abstract class BlockCommand<T extends typeof Command> extends RpcCommand<T> {
  /** mtree.reload on every proxy; a node that fails fails the command (the database is changed). */
  protected async reloadProxies(): Promise<ProxyEnvelope> {
    const nodes = this.nodeSet();
    const outcomes = await nodes.each((c) => reloadBlocked(c));
    for (const o of outcomes) if (o.ok) this.note(nodes.multi ? `${o.node}: ${o.value.message}` : o.value.message);
    const err = nodesError(outcomes, nodes.nodes.length);
    if (err) throw new SipctlError(err.code, `the database is changed, but the proxy did not reload it: ${err.message}`, { category: err.category, hint: err.hint ?? 'reload later with `sipctl rpc mtree.reload`', details: err.details });
    return envelope(outcomes);
  }
}
