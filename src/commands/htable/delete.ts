import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableDelete extends RpcCommand<typeof HtableDelete> {
  static summary = 'Delete a key from a hash table (htable.delete), on every node.';
  static description = 'Exit code 3 when no node had the key; with several nodes, a node without it reports "not present".';
  static examples = ['<%= config.bin %> htable delete ipban 1.2.3.4'];
  static args = {
    table: Args.string({ description: 'table name', required: true }),
    key: Args.string({ description: 'key', required: true }),
  };
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.htableDelete(this.opContext(), this.args.table, this.args.key));
  }
}
