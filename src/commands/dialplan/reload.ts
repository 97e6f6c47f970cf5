import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { dialplanReload } from '../../core/dialplan/dialplan.js';

export default class DialplanReload extends RpcCommand<typeof DialplanReload> {
  static summary = 'Make the running proxies reload the dialplan table (dialplan.reload; kamctl dialplan reload).';
  static description = 'Kamailio answers an empty result; sipctl reports "dialplan table reloaded" per node. A reload within about 5 s of the last is refused by Kamailio ("ongoing reload"); sipctl waits and retries within its timeout (10 s unless --timeout is given) and says so on stderr.';
  static examples = ['<%= config.bin %> dialplan reload', '<%= config.bin %> dialplan reload --node all'];
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await dialplanReload(this.opContext()));
  }
}
