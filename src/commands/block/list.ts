import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listBlocked, longestMatch } from '../../core/block/blocklist.js';

export default class BlockList extends BaseCommand<typeof BlockList> {
  static summary = 'List the blocked destination prefixes (mtree table).';
  static description = 'One row per prefix: PREFIX, NOTE. With a NUMBER, only the prefixes that bear on it, and which one blocks it (the longest match, as the proxy decides). Reads the database; what a running proxy has loaded follows after `sipctl block add/rm` or `sipctl rpc mtree.list`.';
  static examples = ['<%= config.bin %> block list', '<%= config.bin %> block list +447700900123', '<%= config.bin %> block list --json'];
  static args = { number: Args.string({ description: 'a dialled number to check against the list' }) };

  async run() {
    const db = await this.openDb();
    const rows = await listBlocked(db, this.args.number === undefined ? {} : { match: this.args.number });
    if (this.args.number === undefined) {
      this.print(await renderTable(rows, [{ header: 'PREFIX', get: (r) => r.prefix }, { header: 'NOTE', get: (r) => r.note }], this.out));
      return rows;
    }
    const hit = longestMatch(rows, this.args.number);
    if (rows.length > 0) this.print(await renderTable(rows, [{ header: 'PREFIX', get: (r) => r.prefix }, { header: 'NOTE', get: (r) => r.note }], this.out));
    this.note(hit === undefined ? `${this.args.number} is not blocked` : `${this.args.number} is blocked by ${hit.prefix} (${hit.note})`);
    return { number: this.args.number, blocked: hit !== undefined, ...(hit !== undefined ? { by: hit } : {}), prefixes: rows };
  }
}
