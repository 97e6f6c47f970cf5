import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listTrusted } from '../../core/trusted/trusted.js';

export default class TrustedShow extends BaseCommand<typeof TrustedShow> {
  static summary = 'List the permissions trusted table (from the database).';
  static description = 'What is stored, not what the proxy has loaded: see `sipctl trusted dump` for that.';
  static examples = ['<%= config.bin %> trusted show', '<%= config.bin %> trusted show --src-ip 192.0.2.20 --json'];
  static flags = { 'src-ip': Flags.string({ description: 'only this source address' }) };

  async run() {
    const db = await this.openDb();
    const rows = await listTrusted(db, { srcIp: this.flags['src-ip'] });
    this.print(await renderTable(rows, [
      { header: 'ID', get: (r) => r.id },
      { header: 'SRC IP', get: (r) => r.srcIp },
      { header: 'PROTO', get: (r) => r.proto },
      { header: 'FROM PATTERN', get: (r) => r.fromPattern ?? '' },
      { header: 'RURI PATTERN', get: (r) => r.ruriPattern ?? '' },
      { header: 'TAG', get: (r) => r.tag ?? '' },
      { header: 'PRIORITY', get: (r) => r.priority },
    ], this.out));
    if (rows.length === 0) this.note('no entries');
    return rows;
  }
}
