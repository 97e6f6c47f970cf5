import { CredentialCommand } from '../../cli/credential-command.js';
import { changePassword } from '../../core/subscribers/subscribers.js';

export default class SubscriberPasswd extends CredentialCommand {
  static summary = "Change a subscriber's password.";
  static description = 'Recomputes ha1 and ha1b. The plaintext column is written only with --store-plaintext; otherwise it is cleared.';
  static examples = ['<%= config.bin %> subscriber passwd alice@sip.example.com', '<%= config.bin %> subscriber passwd alice@sip.example.com --generate'];
  protected readonly verbs = ['changed password of', 'would change password of'] as const;
  protected apply = changePassword;
}
