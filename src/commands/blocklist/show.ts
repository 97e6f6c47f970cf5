import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listBlocklist } from '../../core/ipblock/ip-blocklist.js';

export default class BlocklistShow extends BaseCommand<typeof BlocklistShow> {
  static summary = 'List the blocklisted addresses and networks (sipd_blocklist table).';
  static description = 'One row per entry: NETWORK, REASON, EXPIRES (never, or the time; "expired" once past — sipd no longer blocks it). Reads the database.';
  static examples = ['<%= config.bin %> blocklist show', '<%= config.bin %> blocklist show --json'];

  async run() {
    const db = await this.openDb();
    const rows = await listBlocklist(db);
    this.print(await renderTable(rows, [
      { header: 'NETWORK', get: (r) => r.network },
      { header: 'REASON', get: (r) => r.reason },
      { header: 'EXPIRES', get: (r) => (r.expires === null ? 'never' : r.expired ? `expired ${r.expires}` : r.expires) },
    ], this.out));
    return rows;
  }
}
