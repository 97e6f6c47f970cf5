import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { listSubscribers } from '../../core/subscribers/subscribers.js';
import { renderSubscribers } from './show.js';

export default class SubscriberList extends BaseCommand<typeof SubscriberList> {
  static summary = 'List subscribers, filtered by domain and username pattern, paged.';
  static description = 'A page of --limit rows (default 100). When rows are left out, stderr says how many and how to get them, and --json has total and truncated: true. `sipctl show` lists every subscriber.';
  static examples = ['<%= config.bin %> subscriber list --domain sip.example.com', "<%= config.bin %> subscriber list --pattern '6131*' --limit 50 --page 2"];
  static flags = {
    domain: Flags.string({ char: 'd', description: 'only this domain' }),
    pattern: Flags.string({ char: 'p', description: 'username pattern with * and ? wildcards' }),
    limit: Flags.integer({ description: 'rows per page', default: 100, min: 1, max: 1_000_000 }),
    page: Flags.integer({ description: 'page number, from 1', default: 1, min: 1 }),
    reveal: Flags.boolean({ description: 'include ha1 and ha1b' }),
  };

  async run() {
    const db = await this.openDb();
    const { limit, page } = this.flags;
    const { total, subscribers } = await listSubscribers(db, {
      domain: this.flags.domain,
      pattern: this.flags.pattern,
      limit,
      offset: (page - 1) * limit,
      reveal: this.flags.reveal,
    });
    this.print(await renderSubscribers(subscribers, this.out, this.flags.reveal));
    // Never cut short silently: piped or not, stderr says what this page left out and how to get it.
    const pages = Math.max(1, Math.ceil(total / limit));
    const truncated = subscribers.length < total;
    if (truncated) this.note(`${subscribers.length} of ${total} subscriber(s), page ${page} of ${pages}: ${page < pages ? `--page ${page + 1} for the next, ` : ''}--limit ${total} for all, or \`sipctl show\` for every subscriber`);
    else if (this.out.tty) this.note(`${subscribers.length} of ${total} subscriber(s)`);
    return { total, truncated, page, limit, subscribers };
  }
}
