import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { uacregDump } from '../../core/uacreg/uacreg.js';

export default class UacregDump extends RpcCommand<typeof UacregDump> {
  static summary = 'The registrations the running proxy has loaded, with their state (uac.reg_dump).';
  static description = 'One row per record: L_UUID, LOCAL, REMOTE, AUTH PROXY, EXPIRES, STATE (the uac flags as words: online, ongoing, authsent, init, disabled). The password the proxy reports is masked, in --json too. Needs Kamailio\'s uac module with reg_db_url; sipd does not make registrations of its own and answers "method not supported by this proxy". Compare with `sipctl uacreg show` (the database).';
  static examples = ['<%= config.bin %> uacreg dump', '<%= config.bin %> uacreg dump --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await uacregDump(this.opContext()));
  }
}
