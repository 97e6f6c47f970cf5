import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { reloadTimeRules, removeTimeRule } from '../../core/timerule/timerules.js';

export default class TimeruleRm extends RuleCommand<typeof TimeruleRm> {
  static summary = 'Remove a time rule by id, then reload the proxies.';
  static description = 'Asks first on a terminal; scripts pass --yes. The id is the one `sipctl timerule show` prints; no such rule: exit code 3.';
  static examples = ['<%= config.bin %> timerule rm 1 --yes'];
  static args = { id: Args.integer({ description: 'rule id', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'reload the time rules on the proxies (timerule.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const found = await removeTimeRule(db, this.args.id, { dryRun: true });
      await this.confirmDestructive(`Remove time rule ${found.id} (${found.class} within ${found.timerec})?`);
    }
    const rule = await removeTimeRule(db, this.args.id, { dryRun: this.flags['dry-run'] });
    this.print(`${this.flags['dry-run'] ? 'would remove' : 'removed'} rule ${rule.id}`);
    const out = { action: 'rm', rule, dryRun: this.flags['dry-run'] === true };
    if (this.flags['dry-run'] || !this.flags.reload) return out;
    return { ...out, reload: await this.reloadProxies(reloadTimeRules, 'timerule.reload') };
  }
}
