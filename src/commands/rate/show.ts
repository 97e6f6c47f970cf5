import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listRates } from '../../core/rate/rates.js';

export default class RateShow extends BaseCommand<typeof RateShow> {
  static summary = 'List the rate table (sipd_rate).';
  static description = 'One row per prefix: PREFIX, PRICE (per minute), CURRENCY, INCREMENT (billing, seconds), DESCRIPTION. Reads the database.';
  static examples = ['<%= config.bin %> rate show', '<%= config.bin %> rate show --json'];

  async run() {
    const db = await this.openDb();
    const rows = await listRates(db);
    this.print(await renderTable(rows, [
      { header: 'PREFIX', get: (r) => `+${r.prefix}` },
      { header: 'PRICE', get: (r) => String(r.price) },
      { header: 'CURRENCY', get: (r) => r.currency },
      { header: 'INCREMENT', get: (r) => String(r.increment) },
      { header: 'DESCRIPTION', get: (r) => r.description },
    ], this.out));
    return rows;
  }
}
