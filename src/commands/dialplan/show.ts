import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listDialplan } from '../../core/dialplan/dialplan.js';

export default class DialplanShow extends BaseCommand<typeof DialplanShow> {
  static summary = 'List the dialplan table (from the database; kamctl dialplan show).';
  static description = 'What is stored, not what the proxy has loaded: see `sipctl dialplan dump DPID` for that.';
  static examples = ['<%= config.bin %> dialplan show', '<%= config.bin %> dialplan show 1 --json'];
  static args = { dpid: Args.string({ description: 'only this dialplan' }) };

  async run() {
    const db = await this.openDb();
    const rows = await listDialplan(db, { dpid: this.args.dpid });
    this.print(await renderTable(rows, [
      { header: 'ID', get: (r) => r.id },
      { header: 'DPID', get: (r) => r.dpid },
      { header: 'PR', get: (r) => r.pr },
      { header: 'MATCH OP', get: (r) => r.matchOp },
      { header: 'MATCH', get: (r) => r.matchExp },
      { header: 'SUBST', get: (r) => r.substExp },
      { header: 'REPLACE', get: (r) => r.replExp },
      { header: 'ATTRS', get: (r) => r.attrs },
    ], this.out));
    if (rows.length === 0) this.note('no rules');
    return rows;
  }
}
