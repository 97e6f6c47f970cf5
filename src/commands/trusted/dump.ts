import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { trustedDump } from '../../core/trusted/trusted.js';

export default class TrustedDump extends RpcCommand<typeof TrustedDump> {
  static summary = 'What the running proxy has loaded from the trusted table (permissions.trustedDump).';
  static description = 'Needs the permissions module with db_mode 1 (cached). Known limit of Kamailio 5.6: its JSON-RPC reply repeats the keys "table" and "item" inside one object, so over JSON-RPC only the last of several entries arrives; `kamcmd permissions.trustedDump` (binrpc) lists them all. Compare with `sipctl trusted show` (the database).';
  static examples = ['<%= config.bin %> trusted dump', '<%= config.bin %> trusted dump --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await trustedDump(this.opContext()));
  }
}
