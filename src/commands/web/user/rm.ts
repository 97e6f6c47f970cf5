import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../../cli/base-command.js';
import { yesFlag } from '../../../cli/rpc-support.js';
import { AccountStore } from '../../../core/web/accounts.js';

export default class WebUserRm extends BaseCommand<typeof WebUserRm> {
  static summary = 'Remove an account of the web console.';
  static description = 'Asks first on a terminal; scripts pass --yes. Its login sessions in a running `sipctl web` end at their next request. A name that has no account is exit code 3.';
  static examples = ['<%= config.bin %> web user rm noc --yes'];
  static args = { name: Args.string({ description: 'account name', required: true }) };
  static flags = {
    yes: yesFlag,
    'users-file': Flags.string({ description: 'accounts file (default: web-users.json in the sipctl config directory)', env: 'SIPCTL_WEB_USERS_FILE' }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
  };

  async run() {
    const store = AccountStore.forEnv(process.env, this.flags['users-file']);
    const dryRun = this.flags['dry-run'];
    store.remove(this.args.name, { dryRun: true }); // not found: exit 3 before asking
    if (!dryRun) {
      const { confirmAction } = await import('../../../cli/prompt.js');
      await confirmAction(`Remove web user ${this.args.name}?`, this.flags.yes);
    }
    const r = store.remove(this.args.name, { dryRun });
    this.print(`${r.dryRun ? 'would remove' : 'removed'} web user ${r.name}`);
    return r;
  }
}
