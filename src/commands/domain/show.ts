import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listDomains } from '../../core/domain/domains.js';

export default class DomainShow extends BaseCommand<typeof DomainShow> {
  static summary = 'List the domain table (from the database; kamctl domain show).';
  static description = 'What is stored, not what the proxy has loaded: see `sipctl domain dump` for that.';
  static examples = ['<%= config.bin %> domain show', '<%= config.bin %> domain show --json'];

  async run() {
    const db = await this.openDb();
    const rows = await listDomains(db);
    this.print(await renderTable(rows, [
      { header: 'ID', get: (r) => r.id },
      { header: 'DOMAIN', get: (r) => r.domain },
      { header: 'DID', get: (r) => r.did ?? '' },
      { header: 'LAST MODIFIED', get: (r) => r.lastModified },
    ], this.out));
    if (rows.length === 0) this.note('no domains');
    return rows;
  }
}
