/** What the rule commands (blocklist, country, timerule) share: after a table change, every proxy reloads it. */
import type { Command } from '@oclif/core';
import { SipctlError } from '../core/errors.js';
import { nodesError } from '../core/proxy/node-set.js';
import type { RpcClient } from '../core/rpc/client.js';
import { RpcCommand, envelope, type ProxyEnvelope } from './rpc-support.js';

export abstract class RuleCommand<T extends typeof Command> extends RpcCommand<T> {
  /** `reload` on every proxy; a node that fails fails the command (the database is changed). */
  protected async reloadProxies(reload: (c: RpcClient) => Promise<{ message: string }>, method: string): Promise<ProxyEnvelope> {
    const nodes = this.nodeSet();
    const outcomes = await nodes.each((c) => reload(c));
    for (const o of outcomes) if (o.ok) this.note(nodes.multi ? `${o.node}: ${o.value.message}` : o.value.message);
    const err = nodesError(outcomes, nodes.nodes.length);
    if (err) throw new SipctlError(err.code, `the database is changed, but the proxy did not reload it: ${err.message}`, { category: err.category, hint: err.hint ?? `reload later with \`sipctl rpc ${method}\``, details: err.details });
    return envelope(outcomes);
  }
}
