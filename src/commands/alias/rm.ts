import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { dryRunFlag, yesFlag } from '../../cli/rpc-support.js';
import { removeAlias } from '../../core/alias/aliases.js';

export default class AliasRm extends BaseCommand<typeof AliasRm> {
  static summary = 'Remove an alias (kamctl alias_db rm).';
  static description = 'Asks first on a terminal; scripts pass --yes. An alias that does not exist is exit code 3.';
  static examples = ['<%= config.bin %> alias rm 4930123456@sip.example.com --yes'];
  static args = { alias: Args.string({ description: 'ALIAS[@DOMAIN]', required: true }) };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), 'dry-run': dryRunFlag, yes: yesFlag };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const { confirmAction } = await import('../../cli/prompt.js');
      await confirmAction(`Remove alias ${this.args.alias}?`, this.flags.yes);
    }
    const change = await removeAlias(db, this.args.alias, { defaultDomain: this.flags.domain ?? this.cfg.values.domain, dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} alias ${e.alias} → ${e.user}`);
    return change;
  }
}
