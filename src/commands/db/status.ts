import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { schemaStatus } from '../../core/db/schema/schema.js';

export default class DbStatus extends BaseCommand<typeof DbStatus> {
  static summary = 'List the tables sipctl uses with their versions and row counts.';
  static description = 'state is ok, missing, no-version-row, or unknown-version (sipctl refuses to write to such a table).';
  static examples = ['<%= config.bin %> db status', '<%= config.bin %> db status --json'];

  async run() {
    const db = await this.openDb();
    const tables = await schemaStatus(db);
    this.print(
      await renderTable(tables, [
        { header: 'TABLE', get: (t) => t.table },
        { header: 'VERSION', get: (t) => (t.version === undefined ? '-' : t.version ?? '?') },
        { header: 'EXPECTED', get: (t) => t.expectedVersion },
        { header: 'ROWS', get: (t) => t.rows ?? '-' },
        { header: 'STATE', get: (t) => t.state },
        { header: 'OWNER', get: (t) => t.owner },
      ], this.out),
    );
    return { database: db.label, engine: db.engine, tables };
  }
}
