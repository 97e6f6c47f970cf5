import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { dryRunFlag } from '../../cli/rpc-support.js';
import { grant } from '../../core/acl/acl.js';

export default class AclGrant extends BaseCommand<typeof AclGrant> {
  static summary = 'Put a user into a group (kamctl acl grant; group module, grp table).';
  static description = 'is_user_in() in the config checks the grp table on every request, so no reload is needed. A user already in the group is a conflict (exit 4).';
  static examples = ['<%= config.bin %> acl grant alice@sip.example.com int', '<%= config.bin %> acl grant bob voicemail -d sip.example.com --dry-run'];
  static args = {
    user: Args.string({ description: 'USER[@DOMAIN]', required: true }),
    group: Args.string({ description: 'group name (e.g. local, ld, int, voicemail, free-pstn)', required: true }),
  };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), 'dry-run': dryRunFlag };

  async run() {
    const db = await this.openDb();
    const change = await grant(db, this.args.user, this.args.group, { defaultDomain: this.flags.domain ?? this.cfg.values.domain, dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would grant' : 'granted'} ${e.grp} to ${e.username}@${e.domain}`);
    return change;
  }
}
