import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listUaRules } from '../../core/uafilter/uafilter.js';

export default class UafilterShow extends BaseCommand<typeof UafilterShow> {
  static summary = 'List the User-Agent allow patterns (sipd_ua_allow table).';
  static description = "One row per pattern: ID, GROUP ('*' = every subscriber), PATTERN, DESCRIPTION. Reads the database.";
  static examples = ['<%= config.bin %> uafilter show', '<%= config.bin %> uafilter show --json'];

  async run() {
    const db = await this.openDb();
    const rows = await listUaRules(db);
    this.print(await renderTable(rows, [
      { header: 'ID', get: (r) => String(r.id) },
      { header: 'GROUP', get: (r) => (r.grp === '' ? '*' : r.grp) },
      { header: 'PATTERN', get: (r) => r.pattern },
      { header: 'DESCRIPTION', get: (r) => r.description },
    ], this.out));
    return rows;
  }
}
