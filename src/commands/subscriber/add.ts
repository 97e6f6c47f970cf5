import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { credentialConfig, credentialFlags, obtainPassword, parseAor, passwordSourceFlags } from '../../cli/subscriber-support.js';
import { addSubscriber } from '../../core/subscribers/subscribers.js';

export default class SubscriberAdd extends BaseCommand<typeof SubscriberAdd> {
  static summary = 'Add a subscriber (SIP digest credentials).';
  static description = `Stores ha1 = MD5(user:domain:password) and ha1b = MD5(user@domain:domain:password), as Kamailio's auth_db expects (realm = domain). The plaintext password is stored only with --store-plaintext.

The password may be given as an argument (as with kamctl, but then it is visible in process lists), on standard input, generated, or typed at a hidden prompt.`;
  static examples = [
    '<%= config.bin %> subscriber add 61312341234@sip.example.com',
    'printf %s "$PW" | <%= config.bin %> subscriber add alice --domain sip.example.com --password-stdin',
    '<%= config.bin %> subscriber add bob@sip.example.com --generate --json',
  ];
  static args = {
    user: Args.string({ description: 'user or user@domain', required: true }),
    password: Args.string({ ignoreStdin: true, description: 'password (visible in process lists: prefer the prompt or --password-stdin)' }),
  };
  static flags = {
    ...credentialFlags,
    ...passwordSourceFlags,
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  protected override configOverrides() {
    return credentialConfig(this.flags);
  }

  async run() {
    const { username, domain } = parseAor(this.args.user, this.cfg.values.domain);
    const { password, generated } = await obtainPassword(this.args.password, this.flags);
    const db = await this.openDb();
    const change = await addSubscriber(db, username, domain, password, {
      hash: this.cfg.values.hash,
      storePlaintext: this.cfg.values.storePlaintext,
      allowWeak: this.flags['allow-weak'],
      dryRun: this.flags['dry-run'],
    });
    const result = { ...change, ...(generated ? { generatedPassword: password } : {}) };
    this.print(`${change.dryRun ? 'would add' : 'added'} subscriber ${username}@${domain}${change.storedPlaintext ? ' (plaintext password stored)' : ''}`);
    if (generated && !this.jsonEnabled()) process.stdout.write(`password: ${password}\n`);
    return result;
  }
}
