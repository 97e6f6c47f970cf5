import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableGet extends RpcCommand<typeof HtableGet> {
  static summary = 'Show one key of a hash table (htable.get).';
  static description = 'Exit code 3 when the table or key does not exist.';
  static examples = ['<%= config.bin %> htable get ipban 1.2.3.4'];
  static args = {
    table: Args.string({ description: 'table name', required: true }),
    key: Args.string({ description: 'key', required: true }),
  };
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.htableGet(this.opContext(), this.args.table, this.args.key));
  }
}
