import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';
import { validateTableName } from '../../core/proxy/htable.js';

export default class HtableFlush extends RpcCommand<typeof HtableFlush> {
  static summary = 'Delete every key of a hash table (htable.flush), on every node.';
  static description = 'Asks first on a terminal; scripts pass --yes. --dry-run counts the keys that would go.';
  static examples = ['<%= config.bin %> htable flush ipban --yes', '<%= config.bin %> htable flush ipban --dry-run'];
  static args = { table: Args.string({ description: 'table name', required: true }) };
  static flags = { ...rpcFlags, yes: yesFlag, 'dry-run': dryRunFlag };

  async run() {
    validateTableName(this.args.table);
    const ctx = this.opContext();
    await this.confirmDestructive(`Flush every key of htable ${this.args.table} on ${ctx.nodes.nodes.map((n) => n.name).join(', ')}?`);
    return this.finish(await ops.htableFlush(ctx, this.args.table));
  }
}
