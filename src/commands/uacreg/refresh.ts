import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { uacregRefresh } from '../../core/uacreg/uacreg.js';

export default class UacregRefresh extends RpcCommand<typeof UacregRefresh> {
  static summary = 'Make the running proxies load one record from the uacreg table and register it anew (uac.reg_refresh).';
  static description = 'A record the table does not have is exit code 3 (Kamailio: 404 "Record not found"). Use it after `uacreg add`, or to re-register one carrier now.';
  static examples = ['<%= config.bin %> uacreg refresh carrier1'];
  static args = { l_uuid: Args.string({ description: 'record name', required: true }) };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await uacregRefresh(this.opContext(), this.args.l_uuid));
  }
}
