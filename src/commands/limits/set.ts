import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { parseLimit, reloadLimits, setLimits, type Limits } from '../../core/limits/limits.js';

export default class LimitsSet extends RuleCommand<typeof LimitsSet> {
  static summary = "Set a subscriber's daily and monthly limits (calls, minutes, cost), then reload the proxies.";
  static description = `USER is a subscriber's user name, or '*' for the default of every subscriber (a subscriber's own value wins; "default" gives a value back to the '*' row, "none" means no limit). Costs are in the rate table's currency (\`sipctl rate\`); days and months are UTC. At a limit sipd answers new calls 403 ("Daily call limit reached", "Daily minutes limit reached", "Daily cost limit reached", "Monthly cost limit reached") and ends a running call when its cost reaches the limit; the totals come from the CDRs, so they survive restarts.`;
  static examples = [
    '<%= config.bin %> limits set alice --cost-per-day 5.00 --cost-per-month 50',
    "<%= config.bin %> limits set '*' --calls-per-day 200 --minutes-per-day 600",
    '<%= config.bin %> limits set alice --calls-per-day none',
  ];
  static args = { user: Args.string({ description: "subscriber user name, or '*' (the default)", required: true }) };
  static flags = {
    ...rpcFlags,
    'calls-per-day': Flags.string({ description: 'answered calls per day (a number, none, default)' }),
    'minutes-per-day': Flags.string({ description: 'call minutes per day (a number, none, default)' }),
    'cost-per-day': Flags.string({ description: 'cost per day (an amount, none, default)' }),
    'cost-per-month': Flags.string({ description: 'cost per month (an amount, none, default)' }),
    reload: Flags.boolean({ description: 'reload rates and limits on the proxies (limits.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show the limits that would be set; change nothing' }),
  };

  async run() {
    const f = this.flags;
    const change: Partial<Limits> = {};
    if (f['calls-per-day'] !== undefined) change.callsPerDay = parseLimit('calls-per-day', f['calls-per-day'], false);
    if (f['minutes-per-day'] !== undefined) change.minutesPerDay = parseLimit('minutes-per-day', f['minutes-per-day'], false);
    if (f['cost-per-day'] !== undefined) change.costPerDay = parseLimit('cost-per-day', f['cost-per-day'], true);
    if (f['cost-per-month'] !== undefined) change.costPerMonth = parseLimit('cost-per-month', f['cost-per-month'], true);
    const db = await this.openDb();
    const limits = await setLimits(db, this.args.user, change, { dryRun: f['dry-run'] });
    const show = (v: number | null) => (v === null ? 'default' : v < 0 ? 'none' : String(v));
    this.print(`${f['dry-run'] ? 'would set' : 'set'} ${limits.user}: calls/day ${show(limits.callsPerDay)}, minutes/day ${show(limits.minutesPerDay)}, cost/day ${show(limits.costPerDay)}, cost/month ${show(limits.costPerMonth)}`);
    const out = { action: 'set', limits, dryRun: f['dry-run'] === true };
    if (f['dry-run'] || !f.reload) return out;
    return { ...out, reload: await this.reloadProxies(reloadLimits, 'limits.reload') };
  }
}
