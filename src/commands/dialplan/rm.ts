import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { dialplanReload, removeDialplan } from '../../core/dialplan/dialplan.js';

export default class DialplanRm extends RpcCommand<typeof DialplanRm> {
  static summary = 'Remove rules from a dialplan (kamctl dialplan rm).';
  static description = 'With MATCH, the rules of DPID whose match expression is exactly MATCH; without it, every rule of DPID. Asks first on a terminal; scripts pass --yes. Nothing matching is exit code 3. Add --reload to make the running proxies forget them at once.';
  static examples = ['<%= config.bin %> dialplan rm 1 "^00([1-9][0-9]+)$" --yes --reload', '<%= config.bin %> dialplan rm 2 --dry-run'];
  static args = {
    dpid: Args.string({ description: 'dialplan id', required: true }),
    match: Args.string({ description: 'only the rules with this match expression' }),
  };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'then reload the dialplan table on the proxies (dialplan.reload)' }),
    'dry-run': dryRunFlag,
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    await this.confirmDestructive(this.args.match === undefined ? `Remove every rule of dialplan ${this.args.dpid}?` : `Remove the rules of dialplan ${this.args.dpid} matching "${this.args.match}"?`);
    const change = await removeDialplan(db, this.args.dpid, this.args.match, { dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} from dialplan ${e.dpid}: ${e.matchOp} "${e.matchExp}"`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy forgets it on `sipctl dialplan reload` (or use --reload)');
      return change;
    }
    const reload = await dialplanReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
