import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listAliases } from '../../core/alias/aliases.js';

export default class AliasShow extends BaseCommand<typeof AliasShow> {
  static summary = 'List aliases: all, one alias, or those of one user (kamctl alias_db show / list).';
  static examples = ['<%= config.bin %> alias show', '<%= config.bin %> alias show --user alice@sip.example.com --json'];
  static args = { alias: Args.string({ description: 'ALIAS[@DOMAIN]' }) };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), user: Flags.string({ description: 'only aliases of this USER[@DOMAIN]' }) };

  async run() {
    const db = await this.openDb();
    const rows = await listAliases(db, { alias: this.args.alias, user: this.flags.user, defaultDomain: this.flags.domain ?? this.cfg.values.domain });
    this.print(await renderTable(rows, [
      { header: 'ALIAS', get: (r) => r.alias },
      { header: 'USER', get: (r) => r.user },
    ], this.out));
    if (rows.length === 0) this.note('no aliases');
    return rows;
  }
}
