import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { confirmAction } from '../../cli/prompt.js';
import { LIVE_CHANGE_HELP, domainFlag, parseAor, reloadProxyCredentials } from '../../cli/subscriber-support.js';
import { removeSubscriber } from '../../core/subscribers/subscribers.js';

export default class SubscriberRm extends BaseCommand<typeof SubscriberRm> {
  static summary = 'Remove a subscriber.';
  static description = 'Asks for confirmation on a terminal; scripts pass --yes.\n\n' + LIVE_CHANGE_HELP;
  static examples = ['<%= config.bin %> subscriber rm alice@sip.example.com --yes'];
  static args = { user: Args.string({ description: 'user or user@domain', required: true }) };
  static flags = {
    domain: domainFlag,
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
  };

  protected override configOverrides() {
    return { domain: this.flags.domain };
  }

  async run() {
    const { username, domain } = parseAor(this.args.user, this.cfg.values.domain);
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      // Check it exists before asking, so nobody confirms the removal of nothing.
      const { getSubscriber } = await import('../../core/subscribers/subscribers.js');
      await getSubscriber(db, username, domain);
      await confirmAction(`Remove subscriber ${username}@${domain}?`, this.flags.yes);
    }
    const change = await removeSubscriber(db, username, domain, { dryRun: this.flags['dry-run'] });
    this.print(`${change.dryRun ? 'would remove' : 'removed'} subscriber ${username}@${domain}`);
    return reloadProxyCredentials(this.session, change, (l) => this.note(l));
  }
}
