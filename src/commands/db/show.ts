import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { showTable } from '../../core/db/table-show.js';

export default class DbShow extends BaseCommand<typeof DbShow> {
  static summary = 'Show the rows of a Kamailio table sipctl knows, read-only (kamcli db show).';
  static description = 'TABLE is one of the tables `sipctl db status` lists. --where COLUMN=VALUE (repeatable, all must hold) filters on any column the table has. Password-equivalent columns (subscriber password/ha1/ha1b, sim ki/opc, uacreg auth_password/auth_ha1) are masked unless --reveal, and cannot be filtered on. At most --limit rows (default 1000); stderr says when more matched.';
  static examples = ['<%= config.bin %> db show domain', '<%= config.bin %> db show dispatcher --where setid=1 --json', '<%= config.bin %> db show subscriber --where domain=sip.example.com'];
  static args = { table: Args.string({ description: 'table name', required: true }) };
  static flags = {
    where: Flags.string({ description: 'COLUMN=VALUE filter (repeatable)', multiple: true }),
    limit: Flags.integer({ description: 'at most this many rows (default 1000)', min: 1 }),
    reveal: Flags.boolean({ description: 'show secret columns instead of ********' }),
  };

  async run() {
    const db = await this.openDb();
    const r = await showTable(db, this.args.table, { where: this.flags.where, limit: this.flags.limit, reveal: this.flags.reveal });
    this.print(await renderTable(r.rows, r.columns.map((c) => ({ header: c.toUpperCase(), get: (row: Record<string, unknown>) => row[c] ?? '' })), this.out));
    if (r.truncated) this.note(`sipctl: more rows matched; showing the first ${r.rows.length} (raise --limit)`);
    else if (r.rows.length === 0) this.note('no rows');
    return r;
  }
}
