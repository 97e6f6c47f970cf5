import { CredentialCommand } from '../../cli/credential-command.js';
import { LIVE_CHANGE_HELP } from '../../cli/subscriber-support.js';
import { changePassword } from '../../core/subscribers/subscribers.js';

export default class SubscriberPasswd extends CredentialCommand {
  static summary = "Change a subscriber's password.";
  static description = 'Recomputes ha1 and ha1b. The row keeps its storage mode: a row with a plaintext password gets the new one in plaintext too (Kamailio with calculate_ha1 yes reads it), a row without keeps ha1 only. --store-plaintext / --no-store-plaintext override that.\n\n' + LIVE_CHANGE_HELP;
  static examples = ['<%= config.bin %> subscriber passwd alice@sip.example.com', '<%= config.bin %> subscriber passwd alice@sip.example.com --generate'];
  protected readonly verbs = ['changed password of', 'would change password of'] as const;
  protected apply = changePassword;
}
