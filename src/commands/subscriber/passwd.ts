import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { credentialConfig, credentialFlags, obtainPassword, parseAor, passwordSourceFlags } from '../../cli/subscriber-support.js';
import { changePassword } from '../../core/subscribers/subscribers.js';

export default class SubscriberPasswd extends BaseCommand<typeof SubscriberPasswd> {
  static summary = "Change a subscriber's password.";
  static description = 'Recomputes ha1 and ha1b. The plaintext column is written only with --store-plaintext; otherwise it is cleared.';
  static examples = ['<%= config.bin %> subscriber passwd alice@sip.example.com', '<%= config.bin %> subscriber passwd alice@sip.example.com --generate'];
  static args = {
    user: Args.string({ description: 'user or user@domain', required: true }),
    password: Args.string({ ignoreStdin: true, description: 'new password (visible in process lists: prefer the prompt or --password-stdin)' }),
  };
  static flags = {
    ...credentialFlags,
    ...passwordSourceFlags,
    'dry-run': Flags.boolean({ description: 'validate and show what would change; change nothing' }),
  };

  protected override configOverrides() {
    return credentialConfig(this.flags);
  }

  async run() {
    const { username, domain } = parseAor(this.args.user, this.cfg.values.domain);
    const { password, generated } = await obtainPassword(this.args.password, this.flags);
    const db = await this.openDb();
    const change = await changePassword(db, username, domain, password, {
      hash: this.cfg.values.hash,
      storePlaintext: this.cfg.values.storePlaintext,
      allowWeak: this.flags['allow-weak'],
      dryRun: this.flags['dry-run'],
    });
    this.print(`${change.dryRun ? 'would change' : 'changed'} password of ${username}@${domain}`);
    if (generated && !this.jsonEnabled()) process.stdout.write(`password: ${password}\n`);
    return { ...change, ...(generated ? { generatedPassword: password } : {}) };
  }
}
