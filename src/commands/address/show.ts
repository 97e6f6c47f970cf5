import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listAddresses } from '../../core/address/addresses.js';

export default class AddressShow extends BaseCommand<typeof AddressShow> {
  static summary = 'List the permissions address table (from the database).';
  static description = 'What is stored, not what the proxy has loaded: see `sipctl address dump` for that.';
  static examples = ['<%= config.bin %> address show', '<%= config.bin %> address show --group 200 --json'];
  static flags = { group: Flags.string({ char: 'g', description: 'only this group' }) };

  async run() {
    const db = await this.openDb();
    const rows = await listAddresses(db, { group: this.flags.group });
    this.print(await renderTable(rows, [
      { header: 'ID', get: (r) => r.id },
      { header: 'GROUP', get: (r) => r.grp },
      { header: 'IP', get: (r) => r.ip },
      { header: 'MASK', get: (r) => r.mask },
      { header: 'PORT', get: (r) => r.port },
      { header: 'TAG', get: (r) => r.tag ?? '' },
    ], this.out));
    if (rows.length === 0) this.note('no entries');
    return rows;
  }
}
