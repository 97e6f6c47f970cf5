import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableReload extends RpcCommand<typeof HtableReload> {
  static summary = 'Reload a hash table from its database table (htable.reload), on every node.';
  static description = 'Only tables defined with a dbtable can be reloaded; the proxy answers "No htable db_url" (exit 6) otherwise.';
  static examples = ['<%= config.bin %> htable reload dispatch_rules'];
  static args = { table: Args.string({ description: 'table name', required: true }) };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await ops.htableReload(this.opContext(), this.args.table));
  }
}
