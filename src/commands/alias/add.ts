import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { dryRunFlag } from '../../cli/rpc-support.js';
import { addAlias } from '../../core/alias/aliases.js';

export default class AliasAdd extends BaseCommand<typeof AliasAdd> {
  static summary = 'Add an alias for a user (kamctl alias_db add; alias_db module, dbaliases table).';
  static description = 'alias_db_lookup() in the config reads the table on every request, so no reload is needed. An alias that exists already is a conflict (exit 4).';
  static examples = ['<%= config.bin %> alias add 4930123456@sip.example.com alice@sip.example.com', '<%= config.bin %> alias add sales alice -d sip.example.com'];
  static args = {
    alias: Args.string({ description: 'ALIAS[@DOMAIN]', required: true }),
    user: Args.string({ description: 'USER[@DOMAIN] the alias stands for', required: true }),
  };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), 'dry-run': dryRunFlag };

  async run() {
    const db = await this.openDb();
    const change = await addAlias(db, this.args.alias, this.args.user, { defaultDomain: this.flags.domain ?? this.cfg.values.domain, dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would add' : 'added'} alias ${e.alias} → ${e.user}`);
    return change;
  }
}
