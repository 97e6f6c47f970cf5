import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { validateTableName } from '../../core/proxy/htable.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableDelete extends RpcCommand<typeof HtableDelete> {
  static summary = 'Delete a key from a hash table (htable.delete), on every node.';
  static description = 'Asks first on a terminal; scripts pass --yes. Exit code 3 when no node had the key; with several nodes, a node without it reports "not present". --dry-run shows the value that would go.';
  static examples = ['<%= config.bin %> htable delete ipban 1.2.3.4 --yes', '<%= config.bin %> htable delete ipban 1.2.3.4 --dry-run'];
  static args = {
    table: Args.string({ description: 'table name', required: true }),
    key: Args.string({ description: 'key', required: true }),
  };
  static flags = { ...rpcFlags, yes: yesFlag, 'dry-run': dryRunFlag };

  async run() {
    validateTableName(this.args.table);
    const ctx = this.opContext();
    await this.confirmDestructive(`Delete key ${this.args.key} of htable ${this.args.table} on ${ctx.nodes.nodes.map((n) => n.name).join(', ')}?`);
    return this.finish(await ops.htableDelete(ctx, this.args.table, this.args.key));
  }
}
