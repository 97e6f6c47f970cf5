import { Args, Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { reloadBlocked, removeBlocked } from '../../core/block/blocklist.js';
import { nodesError, outcomeJson } from '../../core/proxy/node-set.js';
import { SipctlError } from '../../core/errors.js';

export default class BlockRm extends RpcCommand<typeof BlockRm> {
  static summary = 'Unblock a destination prefix (mtree table), then reload the proxies.';
  static description = 'Removes exactly that prefix (after dropping spaces, dashes, dots and brackets); a prefix that is not blocked is exit code 3. Every proxy then reloads the table (mtree.reload) unless --no-reload is given.';
  static examples = ['<%= config.bin %> block rm +44', '<%= config.bin %> block rm 1900 --no-reload'];
  static args = { prefix: Args.string({ description: 'the blocked prefix', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'reload the blocked prefixes on the proxies (mtree.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const change = await removeBlocked(db, this.args.prefix, { dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would unblock' : 'unblocked'} ${e.prefix} (${e.note})`);
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies() };
  }

  /** mtree.reload on every proxy; a node that fails fails the command (the database is changed). */
  private async reloadProxies(): Promise<unknown> {
    const nodes = this.nodeSet();
    const outcomes = await nodes.each((c) => reloadBlocked(c));
    for (const o of outcomes) if (o.ok) this.note(nodes.multi ? `${o.node}: ${o.value.message}` : o.value.message);
    const err = nodesError(outcomes, nodes.nodes.length);
    if (err) throw new SipctlError(err.code, `the database is changed, but the proxy did not reload it: ${err.message}`, { category: err.category, hint: err.hint ?? 'reload later with `sipctl rpc mtree.reload`', details: err.details });
    return nodes.multi ? outcomes.map((o) => outcomeJson(o)) : outcomes[0]!.ok ? outcomes[0]!.value : undefined;
  }
}
