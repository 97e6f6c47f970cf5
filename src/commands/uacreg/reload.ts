import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { uacregReload } from '../../core/uacreg/uacreg.js';

export default class UacregReload extends RpcCommand<typeof UacregReload> {
  static summary = 'Make the running proxies read the uacreg table again (uac.reg_reload).';
  static description = 'Every record is loaded anew and registered again. Needs Kamailio\'s uac module with reg_db_url.';
  static examples = ['<%= config.bin %> uacreg reload', '<%= config.bin %> uacreg reload --node all --json'];
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await uacregReload(this.opContext()));
  }
}
