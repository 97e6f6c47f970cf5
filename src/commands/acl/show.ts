import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listAcl } from '../../core/acl/acl.js';

export default class AclShow extends BaseCommand<typeof AclShow> {
  static summary = 'List group memberships, of everyone or of one user (kamctl acl show).';
  static examples = ['<%= config.bin %> acl show', '<%= config.bin %> acl show alice@sip.example.com --json'];
  static args = { user: Args.string({ description: 'USER[@DOMAIN]' }) };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), };

  async run() {
    const db = await this.openDb();
    const rows = await listAcl(db, { user: this.args.user, defaultDomain: this.flags.domain ?? this.cfg.values.domain });
    this.print(await renderTable(rows, [
      { header: 'USER', get: (r) => `${r.username}@${r.domain}` },
      { header: 'GROUP', get: (r) => r.grp },
      { header: 'LAST MODIFIED', get: (r) => r.lastModified },
    ], this.out));
    if (rows.length === 0) this.note('no group memberships');
    return rows;
  }
}
