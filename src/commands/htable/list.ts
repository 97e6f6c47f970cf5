import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableList extends RpcCommand<typeof HtableList> {
  static summary = 'List the hash tables of the running proxy (htable.listTables).';
  static examples = ['<%= config.bin %> htable list', '<%= config.bin %> htable list --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.htableList(this.opContext()));
  }
}
