/**
 * What `subscriber add` and `subscriber passwd` share: the arguments, the password sources,
 * the credential flags, and the run that hashes and writes. Each subclass names its action.
 */
import { Args, Flags } from '@oclif/core';
import type { Database } from '../core/db/database.js';
import type { CredentialOptions, SubscriberChange } from '../core/subscribers/subscribers.js';
import { BaseCommand } from './base-command.js';
import { credentialConfig, credentialFlags, obtainPassword, parseAor, passwordSourceFlags, plaintextChoice, reloadProxyCredentials } from './subscriber-support.js';

export abstract class CredentialCommand extends BaseCommand<typeof CredentialCommand> {
  static args = {
    user: Args.string({ description: 'user or user@domain', required: true }),
    password: Args.string({ ignoreStdin: true, description: 'password (visible in process lists: prefer the prompt or --password-stdin)' }),
  };
  static flags = {
    ...credentialFlags,
    ...passwordSourceFlags,
    'dry-run': Flags.boolean({ description: 'validate and show what would change; change nothing' }),
  };

  /** Writes the credentials; returns what changed. */
  protected abstract apply(db: Database, username: string, domain: string, password: string, opts: CredentialOptions & { dryRun?: boolean }): Promise<SubscriberChange>;
  /** e.g. ['added subscriber', 'would add subscriber'] */
  protected abstract readonly verbs: readonly [done: string, dryRun: string];

  protected override configOverrides() {
    return credentialConfig(this.flags);
  }

  async run() {
    const { username, domain } = parseAor(this.args.user, this.cfg.values.domain);
    const { password, generated } = await obtainPassword(this.args.password, this.flags);
    const db = await this.openDb();
    const change = await this.apply(db, username, domain, password, {
      hash: this.cfg.values.hash,
      storePlaintext: plaintextChoice(this.cfg),
      allowWeak: this.flags['allow-weak'],
      dryRun: this.flags['dry-run'],
    });
    for (const w of change.warnings ?? []) this.note(`warning: ${w}`);
    this.print(`${change.dryRun ? this.verbs[1] : this.verbs[0]} ${username}@${domain}${change.storedPlaintext ? ' (plaintext password stored)' : ''}`);
    if (generated && !this.jsonEnabled()) process.stdout.write(`password: ${password}\n`);
    const reloaded = await reloadProxyCredentials(this.session, change, (l) => this.note(l));
    return { ...reloaded, ...(generated ? { generatedPassword: password } : {}) };
  }
}
