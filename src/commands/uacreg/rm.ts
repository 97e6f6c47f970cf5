import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { removeUacreg, uacregReload } from '../../core/uacreg/uacreg.js';

export default class UacregRm extends RpcCommand<typeof UacregRm> {
  static summary = 'Remove a registration record from the uacreg table (kamcli uacreg rm).';
  static description = 'Asks first on a terminal; scripts pass --yes. A record that does not exist is exit code 3. The running proxy forgets it on `sipctl uacreg reload` (or --reload).';
  static examples = ['<%= config.bin %> uacreg rm carrier1 --yes', '<%= config.bin %> uacreg rm carrier1 --yes --reload'];
  static args = { l_uuid: Args.string({ description: 'record name', required: true }) };
  static flags = { ...rpcFlags, reload: Flags.boolean({ description: 'then reload the uacreg table on the proxies (uac.reg_reload)' }), yes: yesFlag, 'dry-run': dryRunFlag };

  async run() {
    await this.confirmDestructive(`Remove uacreg record ${this.args.l_uuid}?`);
    const db = await this.openDb();
    const change = await removeUacreg(db, this.args.l_uuid, { dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} uacreg ${e.lUuid} (${e.rUsername}@${e.rDomain} via ${e.authProxy})`);
    if (!this.flags.reload || change.dryRun) return change;
    const reload = await uacregReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
