import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { trustedReload } from '../../core/trusted/trusted.js';

export default class TrustedReload extends RpcCommand<typeof TrustedReload> {
  static summary = 'Make the running proxies reload the trusted table (permissions.trustedReload).';
  static description = 'Kamailio refuses a second permissions reload within about 5 s ("ongoing reload"); sipctl waits and retries within its timeout (10 s unless --timeout is given) and says so on stderr.';
  static examples = ['<%= config.bin %> trusted reload', '<%= config.bin %> trusted reload --node all --json'];
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await trustedReload(this.opContext()));
  }
}
