import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { reloadRates, removeRate } from '../../core/rate/rates.js';

export default class RateRm extends RuleCommand<typeof RateRm> {
  static summary = 'Remove the rate of a prefix, then reload the proxies.';
  static description = 'Asks first on a terminal; scripts pass --yes. No rate for that prefix: exit code 3.';
  static examples = ['<%= config.bin %> rate rm +4990 --yes'];
  static args = { prefix: Args.string({ description: 'dialled-number prefix, e.g. +49', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'reload rates and limits on the proxies (limits.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const found = await removeRate(db, this.args.prefix, { dryRun: true });
      await this.confirmDestructive(`Remove the rate of +${found.prefix} (${found.price} ${found.currency}/min)?`);
    }
    const rate = await removeRate(db, this.args.prefix, { dryRun: this.flags['dry-run'] });
    this.print(`${this.flags['dry-run'] ? 'would remove' : 'removed'} the rate of +${rate.prefix}`);
    const out = { action: 'rm', rate, dryRun: this.flags['dry-run'] === true };
    if (this.flags['dry-run'] || !this.flags.reload) return out;
    return { ...out, reload: await this.reloadProxies(reloadRates, 'limits.reload') };
  }
}
