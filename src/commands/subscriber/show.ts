import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderRecord, renderTable } from '../../cli/output.js';
import { domainFlag, parseAor } from '../../cli/subscriber-support.js';
import { getSubscriber, listSubscribers, type SubscriberView } from '../../core/subscribers/subscribers.js';

export default class SubscriberShow extends BaseCommand<typeof SubscriberShow> {
  static summary = 'Show one subscriber, or all of them.';
  static description = 'The password is never shown. ha1/ha1b are password-equivalent for digest authentication and are shown only with --reveal.';
  static examples = ['<%= config.bin %> subscriber show alice@sip.example.com', '<%= config.bin %> subscriber show --json'];
  static args = { user: Args.string({ ignoreStdin: true, description: 'user or user@domain (omit to list all)' }) };
  static flags = {
    domain: domainFlag,
    reveal: Flags.boolean({ description: 'include ha1 and ha1b' }),
  };

  protected override configOverrides() {
    return { domain: this.flags.domain };
  }

  async run() {
    const db = await this.openDb();
    if (!this.args.user) {
      // kamctl show lists every subscriber: so does this, never a silent first 1,000.
      const { total, subscribers } = await listSubscribers(db, { reveal: this.flags.reveal, domain: this.flags.domain });
      this.print(await renderSubscribers(subscribers, this.out, this.flags.reveal));
      return { total, truncated: false, subscribers };
    }
    const { username, domain } = parseAor(this.args.user, this.cfg.values.domain);
    const sub = await getSubscriber(db, username, domain, this.flags.reveal);
    const pairs: Array<[string, unknown]> = [
      ['id', sub.id],
      ['username', sub.username],
      ['domain', sub.domain],
      ['plaintext', sub.hasPlaintextPassword ? 'stored' : 'not stored'],
    ];
    if (this.flags.reveal) pairs.push(['ha1', sub.ha1], ['ha1b', sub.ha1b]);
    this.print(await renderRecord(pairs, this.out));
    return sub;
  }
}

export async function renderSubscribers(rows: SubscriberView[], out: Parameters<typeof renderTable>[2], reveal?: boolean): Promise<string> {
  const cols = [
    { header: 'USERNAME', get: (r: SubscriberView) => r.username },
    { header: 'DOMAIN', get: (r: SubscriberView) => r.domain },
    { header: 'PLAINTEXT', get: (r: SubscriberView) => (r.hasPlaintextPassword ? 'yes' : 'no') },
  ];
  if (reveal) cols.push({ header: 'HA1', get: (r) => r.ha1 ?? '' }, { header: 'HA1B', get: (r) => r.ha1b ?? '' });
  return renderTable(rows, cols, out);
}
