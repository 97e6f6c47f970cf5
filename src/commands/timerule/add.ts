import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { addTimeRule, reloadTimeRules } from '../../core/timerule/timerules.js';

export default class TimeruleAdd extends RuleCommand<typeof TimeruleAdd> {
  static summary = 'Allow calls to a destination class only within a time window (Kamailio tmrec format), then reload the proxies.';
  static description = `CLASS is international (dialled with + or 00), national, all, or a dialled-number prefix (e.g. +4490, 1900). TIMEREC is a Kamailio tmrec recurrence: startdate|duration|frequency|until|interval|byday|bymonthday|byyearday|byweekno|bymonth, e.g. "20240101T080000|PT12H|weekly|||MO,TU,WE,TH,FR" (weekdays 08:00–20:00), read in --tz. Outside every window of the rules for a class, sipd answers the subscriber's call with 403 "Outside allowed hours". --group limits the rule to members of a group (grp table, \`sipctl acl\`).`;
  static examples = [
    "<%= config.bin %> timerule add international '20240101T080000|PT12H|weekly|||MO,TU,WE,TH,FR' --tz Europe/Berlin",
    "<%= config.bin %> timerule add +4490 '20240101T090000|PT8H|daily' --group staff --description 'premium only in office hours'",
  ];
  static args = {
    class: Args.string({ description: 'international, national, all, or a dialled-number prefix', required: true }),
    timerec: Args.string({ description: 'Kamailio tmrec recurrence (quote it: it holds "|")', required: true }),
  };
  static flags = {
    ...rpcFlags,
    tz: Flags.string({ description: 'IANA time zone the window is read in', default: 'UTC' }),
    group: Flags.string({ description: 'only subscribers in this group (grp table); default every subscriber' }),
    description: Flags.string({ description: 'free text (at most 128 characters)', default: '' }),
    reload: Flags.boolean({ description: 'reload the time rules on the proxies (timerule.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const rule = await addTimeRule(db, { class: this.args.class, timerec: this.args.timerec, tz: this.flags.tz, grp: this.flags.group, description: this.flags.description }, { dryRun: this.flags['dry-run'] });
    this.print(`${this.flags['dry-run'] ? 'would add' : `added rule ${rule.id}:`} ${rule.class}${rule.grp ? ` (group ${rule.grp})` : ''} only within ${rule.timerec} ${rule.tz}`);
    const out = { action: 'add', rule, dryRun: this.flags['dry-run'] === true };
    if (this.flags['dry-run'] || !this.flags.reload) return out;
    return { ...out, reload: await this.reloadProxies(reloadTimeRules, 'timerule.reload') };
  }
}
