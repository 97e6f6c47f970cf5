import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listSpeedDial } from '../../core/speeddial/speeddial.js';

export default class SpeeddialShow extends BaseCommand<typeof SpeeddialShow> {
  static summary = 'List speed dial entries, of everyone or of one user (kamctl speeddial show / list).';
  static examples = ['<%= config.bin %> speeddial show', '<%= config.bin %> speeddial show alice@sip.example.com --json'];
  static args = { user: Args.string({ description: 'USER[@DOMAIN]' }) };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), };

  async run() {
    const db = await this.openDb();
    const rows = await listSpeedDial(db, { user: this.args.user, defaultDomain: this.flags.domain ?? this.cfg.values.domain });
    this.print(await renderTable(rows, [
      { header: 'USER', get: (r) => r.user },
      { header: 'SHORT', get: (r) => r.short },
      { header: 'TARGET', get: (r) => r.target },
      { header: 'DESCRIPTION', get: (r) => r.description },
    ], this.out));
    if (rows.length === 0) this.note('no speed dial entries');
    return rows;
  }
}
