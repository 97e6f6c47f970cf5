import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { dryRunFlag, yesFlag } from '../../cli/rpc-support.js';
import { removeSpeedDial } from '../../core/speeddial/speeddial.js';

export default class SpeeddialRm extends BaseCommand<typeof SpeeddialRm> {
  static summary = 'Remove a speed dial entry of a user (kamctl speeddial rm).';
  static description = 'Asks first on a terminal; scripts pass --yes. An entry that does not exist is exit code 3.';
  static examples = ['<%= config.bin %> speeddial rm alice@sip.example.com 11 --yes'];
  static args = {
    user: Args.string({ description: 'USER[@DOMAIN]', required: true }),
    short: Args.string({ description: 'the short number', required: true }),
  };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), 'dry-run': dryRunFlag, yes: yesFlag };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const { confirmAction } = await import('../../cli/prompt.js');
      await confirmAction(`Remove speed dial ${this.args.short} of ${this.args.user}?`, this.flags.yes);
    }
    const change = await removeSpeedDial(db, this.args.user, this.args.short, { defaultDomain: this.flags.domain ?? this.cfg.values.domain, dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} speed dial ${e.short} → ${e.target} for ${e.user}`);
    return change;
  }
}
