import { Args, Flags } from '@oclif/core';
import { confirmAction } from '../../cli/prompt.js';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';
import { validateTableName } from '../../core/proxy/htable.js';

export default class HtableFlush extends RpcCommand<typeof HtableFlush> {
  static summary = 'Delete every key of a hash table (htable.flush), on every node.';
  static description = 'Asks first on a terminal; scripts pass --yes.';
  static examples = ['<%= config.bin %> htable flush ipban --yes'];
  static args = { table: Args.string({ description: 'table name', required: true }) };
  static flags = { ...rpcFlags, yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }) };

  async run() {
    validateTableName(this.args.table);
    const ctx = this.opContext();
    await confirmAction(`Flush every key of htable ${this.args.table} on ${ctx.nodes.nodes.map((n) => n.name).join(', ')}?`, this.flags.yes);
    return this.finish(await ops.htableFlush(ctx, this.args.table));
  }
}
