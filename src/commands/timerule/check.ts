import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { checkTimeRulesInDb } from '../../core/timerule/timerules.js';
import { ValidationError } from '../../core/errors.js';

export default class TimeruleCheck extends BaseCommand<typeof TimeruleCheck> {
  static summary = 'Would a call to NUMBER be allowed now (or at --at) by the time rules?';
  static description = 'Evaluates the rules in the database as sipd does: the rules whose class holds NUMBER and whose group is empty or one of --user\'s groups; allowed when none applies or any of their windows holds. Exit code 0 either way; the answer is in the output (and "allowed" in --json).';
  static examples = ['<%= config.bin %> timerule check +4930123456', "<%= config.bin %> timerule check 00441234567 --user alice --at '2026-12-24T22:00:00Z'"];
  static args = { number: Args.string({ description: 'dialled number', required: true }) };
  static flags = {
    user: Flags.string({ description: 'the caller (user or user@domain), for group rules' }),
    at: Flags.string({ description: 'the time to check (ISO 8601); default now' }),
  };

  async run() {
    let at: number | undefined;
    if (this.flags.at !== undefined) {
      at = Date.parse(this.flags.at);
      if (Number.isNaN(at)) throw new ValidationError('at', `"${this.flags.at.slice(0, 40)}" is not a date-time`, 'e.g. 2026-12-24T22:00:00Z');
    }
    const db = await this.openDb();
    const r = await checkTimeRulesInDb(db, this.args.number, { user: this.flags.user, at });
    this.print(r.applicable.length === 0 ? `${r.number}: allowed (no time rule applies)` : r.allowed ? `${r.number}: allowed by rule ${r.matched} at ${r.at}` : `${r.number}: refused (${r.reply}) at ${r.at}; rules ${r.applicable.join(', ')}`);
    return r;
  }
}
