import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableSeti extends RpcCommand<typeof HtableSeti> {
  static summary = 'Set a key to an integer value (htable.seti), on every node.';
  static description = 'The value must be an integer in C int range: Kamailio itself would silently store 0 for anything else.';
  static examples = ['<%= config.bin %> htable seti ipban 1.2.3.4 1', '<%= config.bin %> htable seti MessageCount alice -- -5'];
  static args = {
    table: Args.string({ description: 'table name', required: true }),
    key: Args.string({ description: 'key', required: true }),
    value: Args.string({ description: 'integer value', required: true }),
  };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await ops.htableSeti(this.opContext(), this.args.table, this.args.key, this.args.value));
  }
}
