import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { callHistory, parseSince } from '../../core/calls/calls.js';
import { formatDuration } from '../../core/proxy/status.js';

export default class CallsHistory extends BaseCommand<typeof CallsHistory> {
  static summary = 'Show finished calls from the accounting table (acc_cdrs), newest first.';
  static description = 'One row per call: START (INVITE), CALLER, CALLEE (as dialled), RESULT (the final response: 200 OK, 486 Busy Here, 403 Destination blocked, …), DURATION (answer to end), ENDED (caller-bye, callee-bye, max-duration, cost-limit, rpc, cancelled, failed, rejected, no-answer). Written by sipd\'s acc module; reads the database, so no proxy needs to run. Works on Kamailio\'s stock acc_cdrs too (start_time, end_time, duration only: CALLER, CALLEE and CALL-ID show "-" and --user/--number/--answered need the cdr_extra columns). When more calls match than --limit, stderr says how many were left out.';
  static examples = ['<%= config.bin %> calls history', '<%= config.bin %> calls history --user alice --since 24h', "<%= config.bin %> calls history --number +44 --json"];
  static flags = {
    user: Flags.string({ char: 'u', description: 'calls this subscriber made or received' }),
    since: Flags.string({ description: 'only calls since: a date (2026-01-02), a time (2026-01-02T08:00) or a duration back (30m, 12h, 7d)' }),
    number: Flags.string({ description: 'only dialled numbers starting with this' }),
    answered: Flags.boolean({ description: 'only answered calls (--no-answered: only the others)', allowNo: true }),
    limit: Flags.integer({ description: 'at most this many calls', default: 50, min: 1, max: 1_000_000 }),
  };

  async run() {
    const db = await this.openDb();
    const { total, calls } = await callHistory(db, {
      ...(this.flags.user !== undefined ? { user: this.flags.user } : {}),
      ...(this.flags.since !== undefined ? { since: parseSince(this.flags.since) } : {}),
      ...(this.flags.number !== undefined ? { number: this.flags.number } : {}),
      ...(this.flags.answered !== undefined ? { answered: this.flags.answered } : {}),
      limit: this.flags.limit,
    });
    const tty = this.out.tty;
    const dash = (v: unknown) => (v === undefined ? '-' : v);
    this.print(await renderTable(calls, [
      { header: 'START', get: (r) => (tty ? r.start.replace('T', ' ').slice(0, 19) : r.start) },
      { header: 'CALLER', get: (r) => dash(r.caller) },
      { header: 'CALLEE', get: (r) => dash(r.callee) },
      { header: 'RESULT', get: (r) => (r.sipCode === undefined ? 'answered' : `${r.sipCode} ${r.sipReason ?? ''}`.trim()) },
      { header: 'DURATION', get: (r) => (tty ? formatDuration(Math.round(r.duration)) : r.duration) },
      { header: 'ENDED', get: (r) => dash(r.endReason) },
      { header: 'CALL-ID', get: (r) => dash(r.callId) },
    ], this.out));
    if (calls.length === 0) this.note('no calls');
    else if (calls.length < total) this.note(`${calls.length} of ${total} call(s) shown, newest first: --limit ${total} shows all`);
    return { total, truncated: calls.length < total, calls };
  }
}
