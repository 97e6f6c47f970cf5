import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { listUacreg } from '../../core/uacreg/uacreg.js';

export default class UacregShow extends BaseCommand<typeof UacregShow> {
  static summary = 'List the uacreg table (from the database; kamcli uacreg show), the password masked.';
  static description = 'What is stored, not what the proxy has loaded: see `sipctl uacreg dump` for that. The auth password is never shown (********); `sipctl db show uacreg --reveal` is the one way to read it. One L_UUID that does not exist is exit code 3.';
  static examples = ['<%= config.bin %> uacreg show', '<%= config.bin %> uacreg show carrier1 --json'];
  static args = { l_uuid: Args.string({ description: 'only this record' }) };

  async run() {
    const db = await this.openDb();
    const rows = await listUacreg(db, this.args.l_uuid);
    this.print(await renderTable(rows, [
      { header: 'L_UUID', get: (r) => r.lUuid },
      { header: 'LOCAL', get: (r) => `${r.lUsername}@${r.lDomain}` },
      { header: 'REMOTE', get: (r) => `${r.rUsername}@${r.rDomain}` },
      { header: 'REALM', get: (r) => r.realm },
      { header: 'AUTH USER', get: (r) => r.authUsername },
      { header: 'PASSWORD', get: (r) => r.authPassword },
      { header: 'AUTH PROXY', get: (r) => r.authProxy },
      { header: 'EXPIRES', get: (r) => r.expires },
      { header: 'FLAGS', get: (r) => r.flags },
    ], this.out));
    if (rows.length === 0) this.note('no uacreg records');
    return rows;
  }
}
