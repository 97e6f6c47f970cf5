import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { dryRunFlag } from '../../cli/rpc-support.js';
import { LIVE_CHANGE_HELP, reloadProxyCredentials } from '../../cli/subscriber-support.js';
import { setAttribute } from '../../core/subscribers/attributes.js';

export default class SubscriberSet extends BaseCommand<typeof SubscriberSet> {
  static summary = 'Set an attribute column of a subscriber (kamctl sets/setn, kamcli setattrs).';
  static description = `Only columns on an allow-list: email_address, rpid. Kamailio 5.6's stock subscriber table has neither; a database without the column is exit code 9, naming the column to add. The password, ha1 and ha1b change only through \`sipctl passwd\`; username and domain identify the account. A subscriber that does not exist is exit code 3.

${LIVE_CHANGE_HELP}`;
  static examples = ['<%= config.bin %> subscriber set alice@sip.example.com email_address alice@example.com', '<%= config.bin %> subscriber set alice rpid "+4930123456" -d sip.example.com --dry-run'];
  static args = {
    user: Args.string({ description: 'USER[@DOMAIN]', required: true }),
    column: Args.string({ description: 'column: email_address or rpid', required: true }),
    value: Args.string({ description: 'new value ("" to clear)', required: true }),
  };
  static flags = {
    domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }),
    'dry-run': dryRunFlag,
  };

  async run() {
    const db = await this.openDb();
    const change = await setAttribute(db, this.args.user, this.args.column, this.args.value, { defaultDomain: this.flags.domain ?? this.cfg.values.domain, dryRun: this.flags['dry-run'] });
    this.print(`${change.dryRun ? 'would set' : 'set'} ${change.column} of ${change.username}@${change.domain} to "${change.value}"${change.previous !== null ? ` (was "${change.previous}")` : ''}`);
    return reloadProxyCredentials(this.session, change, (l) => this.note(l));
  }
}
