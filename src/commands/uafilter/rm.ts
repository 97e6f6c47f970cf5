import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { reloadUaRules, removeUaRule } from '../../core/uafilter/uafilter.js';

export default class UafilterRm extends RuleCommand<typeof UafilterRm> {
  static summary = 'Remove a User-Agent allow pattern by id, then reload the proxies.';
  static description = 'Asks first on a terminal; scripts pass --yes. The id is the one `sipctl uafilter show` prints; no such rule: exit code 3. The last pattern of a group removed: its members are no longer filtered.';
  static examples = ['<%= config.bin %> uafilter rm 1 --yes'];
  static args = { id: Args.integer({ description: 'rule id', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'reload the User-Agent rules on the proxies (uafilter.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const found = await removeUaRule(db, this.args.id, { dryRun: true });
      await this.confirmDestructive(`Remove User-Agent rule ${found.id} (${found.grp === '' ? 'every subscriber' : `group ${found.grp}`}: /${found.pattern}/)?`);
    }
    const rule = await removeUaRule(db, this.args.id, { dryRun: this.flags['dry-run'] });
    this.print(`${this.flags['dry-run'] ? 'would remove' : 'removed'} rule ${rule.id}`);
    const out = { action: 'rm', rule, dryRun: this.flags['dry-run'] === true };
    if (this.flags['dry-run'] || !this.flags.reload) return out;
    return { ...out, reload: await this.reloadProxies(reloadUaRules, 'uafilter.reload') };
  }
}
