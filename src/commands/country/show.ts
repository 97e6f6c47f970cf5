import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listCountryRules } from '../../core/country/country-rules.js';

export default class CountryShow extends BaseCommand<typeof CountryShow> {
  static summary = 'List the country rules and the CIDR → country overrides.';
  static description = 'Rules: SCOPE (register, subscriber, carrier, or home for a subscriber\'s home countries), USER, ACTION (allow/block), COUNTRY. Then the overrides: NETWORK → COUNTRY. Reads the database.';
  static examples = ['<%= config.bin %> country show', '<%= config.bin %> country show --json'];

  async run() {
    const db = await this.openDb();
    const l = await listCountryRules(db);
    this.print(await renderTable(l.rules, [
      { header: 'SCOPE', get: (r) => r.scope },
      { header: 'USER', get: (r) => r.username },
      { header: 'ACTION', get: (r) => r.action },
      { header: 'COUNTRY', get: (r) => r.country },
    ], this.out));
    if (l.overrides.length > 0) {
      this.print(await renderTable(l.overrides, [
        { header: 'NETWORK', get: (o) => o.network },
        { header: 'COUNTRY', get: (o) => o.country },
        { header: 'NOTE', get: (o) => o.note },
      ], this.out));
    }
    return l;
  }
}
