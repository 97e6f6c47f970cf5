import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { dryRunFlag, yesFlag } from '../../cli/rpc-support.js';
import { revoke } from '../../core/acl/acl.js';

export default class AclRevoke extends BaseCommand<typeof AclRevoke> {
  static summary = 'Take a user out of a group, or out of every group (kamctl acl revoke).';
  static description = 'Asks first on a terminal; scripts pass --yes. Not in the group is exit code 3.';
  static examples = ['<%= config.bin %> acl revoke alice@sip.example.com int --yes', '<%= config.bin %> acl revoke alice@sip.example.com --dry-run'];
  static args = {
    user: Args.string({ description: 'USER[@DOMAIN]', required: true }),
    group: Args.string({ description: 'group name (default: every group of the user)' }),
  };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), 'dry-run': dryRunFlag, yes: yesFlag };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const { confirmAction } = await import('../../cli/prompt.js');
      await confirmAction(`Revoke ${this.args.group ?? 'every group'} from ${this.args.user}?`, this.flags.yes);
    }
    const change = await revoke(db, this.args.user, this.args.group, { defaultDomain: this.flags.domain ?? this.cfg.values.domain, dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would revoke' : 'revoked'} ${e.grp} from ${e.username}@${e.domain}`);
    return change;
  }
}
