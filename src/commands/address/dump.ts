import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class AddressDump extends RpcCommand<typeof AddressDump> {
  static summary = 'What the running proxy has loaded from the address table.';
  static description = 'permissions.addressDump (single addresses) plus permissions.subnetDump (entries with a shorter mask), one list; KIND says which. Compare with `sipctl address show` (the database) to see whether a reload is due.';
  static examples = ['<%= config.bin %> address dump', '<%= config.bin %> address dump --node all'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.addressDump(this.opContext()));
  }
}
