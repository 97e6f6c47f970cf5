import { CredentialCommand } from '../../cli/credential-command.js';
import { LIVE_CHANGE_HELP } from '../../cli/subscriber-support.js';
import { addSubscriber } from '../../core/subscribers/subscribers.js';

export default class SubscriberAdd extends CredentialCommand {
  static summary = 'Add a subscriber (SIP digest credentials).';
  static description = `Stores ha1 = MD5(user:domain:password) and ha1b = MD5(user@domain:domain:password), as Kamailio's auth_db expects (realm = domain). The plaintext password is stored only with --store-plaintext (Kamailio with auth_db calculate_ha1 yes, Debian's stock kamailio.cfg, needs it). Without a choice (flag, SIPCTL_STORE_PLAINTEXT, config file, kamctlrc) sipctl looks at the table first: when existing subscribers keep plaintext passwords it refuses (exit 4) rather than add a user who could not register.

The password may be given as an argument (as with kamctl, but then it is visible in process lists), on standard input, generated, or typed at a hidden prompt.

${LIVE_CHANGE_HELP}`;
  static examples = [
    '<%= config.bin %> subscriber add 61312341234@sip.example.com',
    'printf %s "$PW" | <%= config.bin %> subscriber add alice --domain sip.example.com --password-stdin',
    '<%= config.bin %> subscriber add bob@sip.example.com --generate --json',
  ];
  protected readonly verbs = ['added subscriber', 'would add subscriber'] as const;
  protected apply = addSubscriber;
}
