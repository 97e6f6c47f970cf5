import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class AddressReload extends RpcCommand<typeof AddressReload> {
  static summary = 'Make the running proxies reload the address table (permissions.addressReload).';
  static description = 'Kamailio refuses a second reload within about 5 s ("ongoing reload"); sipctl waits and retries within its timeout (10 s unless --timeout is given) and says so on stderr (in the JSON: warnings) instead of failing the script.';
  static examples = ['<%= config.bin %> address reload', '<%= config.bin %> address reload --node all --json'];
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await ops.addressReload(this.opContext()));
  }
}
