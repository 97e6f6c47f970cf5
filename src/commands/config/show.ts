import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { describeConfig } from '../../core/config/config.js';

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static summary = 'Show the effective configuration and where each value came from.';
  static description = 'Precedence: flags > environment (SIPCTL_*) > --kamctlrc > config file > built-in default. Passwords are masked.';
  static examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --kamctlrc /etc/kamailio/kamctlrc --json'];

  async run() {
    const rows = describeConfig(this.cfg);
    this.print(await renderTable(rows, [
      { header: 'KEY', get: (r) => r.key },
      { header: 'VALUE', get: (r) => r.value },
      { header: 'SOURCE', get: (r) => r.source },
    ], this.out));
    return { files: this.cfg.files, settings: rows };
  }
}
