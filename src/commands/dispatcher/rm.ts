import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { dispatcherReload, removeDispatcher } from '../../core/dispatcher/dispatcher.js';

export default class DispatcherRm extends RpcCommand<typeof DispatcherRm> {
  static summary = 'Remove a destination from a dispatcher set (kamctl dispatcher rm, by set and URI).';
  static description = 'Asks first on a terminal; scripts pass --yes. A destination that is not in the set is exit code 3. Add --reload to make the running proxies forget it at once.';
  static examples = ['<%= config.bin %> dispatcher rm 1 sip:192.0.2.30:5060 --yes --reload'];
  static args = {
    setid: Args.string({ description: 'destination set number', required: true }),
    uri: Args.string({ description: 'destination SIP URI', required: true }),
  };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'then reload the dispatcher table on the proxies (dispatcher.reload)' }),
    'dry-run': dryRunFlag,
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    await this.confirmDestructive(`Remove ${this.args.uri} from dispatcher set ${this.args.setid}?`);
    const change = await removeDispatcher(db, this.args.setid, this.args.uri, { dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} ${e.destination} from dispatcher set ${e.setid}`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy forgets it on `sipctl dispatcher reload` (or use --reload)');
      return change;
    }
    const reload = await dispatcherReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
