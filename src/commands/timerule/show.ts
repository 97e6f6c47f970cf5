import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listTimeRules } from '../../core/timerule/timerules.js';

export default class TimeruleShow extends BaseCommand<typeof TimeruleShow> {
  static summary = 'List the time rules (sipd_timerule table).';
  static description = 'One row per rule: ID, CLASS, GROUP, TIMEREC, TZ, DESCRIPTION. Reads the database.';
  static examples = ['<%= config.bin %> timerule show', '<%= config.bin %> timerule show --json'];

  async run() {
    const db = await this.openDb();
    const rows = await listTimeRules(db);
    this.print(await renderTable(rows, [
      { header: 'ID', get: (r) => String(r.id) },
      { header: 'CLASS', get: (r) => r.class },
      { header: 'GROUP', get: (r) => r.grp },
      { header: 'TIMEREC', get: (r) => r.timerec },
      { header: 'TZ', get: (r) => r.tz },
      { header: 'DESCRIPTION', get: (r) => r.description },
    ], this.out));
    return rows;
  }
}
