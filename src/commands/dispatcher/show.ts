import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listDispatcher } from '../../core/dispatcher/dispatcher.js';

export default class DispatcherShow extends BaseCommand<typeof DispatcherShow> {
  static summary = 'List the dispatcher table (from the database; kamctl dispatcher show).';
  static description = 'What is stored, not what the proxy has loaded: see `sipctl dispatcher dump` for that (with each destination\'s state).';
  static examples = ['<%= config.bin %> dispatcher show', '<%= config.bin %> dispatcher show 1 --json'];
  static args = { setid: Args.string({ description: 'only this set' }) };

  async run() {
    const db = await this.openDb();
    const rows = await listDispatcher(db, { setid: this.args.setid });
    this.print(await renderTable(rows, [
      { header: 'ID', get: (r) => r.id },
      { header: 'SET', get: (r) => r.setid },
      { header: 'DESTINATION', get: (r) => r.destination },
      { header: 'FLAGS', get: (r) => r.flags },
      { header: 'PRIORITY', get: (r) => r.priority },
      { header: 'ATTRS', get: (r) => r.attrs },
      { header: 'DESCRIPTION', get: (r) => r.description },
    ], this.out));
    if (rows.length === 0) this.note('no destinations');
    return rows;
  }
}
