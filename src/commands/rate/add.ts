import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { addRate, reloadRates } from '../../core/rate/rates.js';

export default class RateAdd extends RuleCommand<typeof RateAdd> {
  static summary = 'Set the price per minute of a dialled-number prefix (rate table), then reload the proxies.';
  static description = `PREFIX is digits, optionally after + or 00 (+49, 0049 and 49 are the same prefix); the longest prefix that matches a dialled number gives its rate. Calls are billed in whole --increment seconds (60: a 61 s call pays 2 minutes; 1: per second). A prefix already in the table gets the new rate. sipd's limits module rates calls with it for the cost limits (\`sipctl limits set\`); numbers no prefix matches cost nothing.`;
  static examples = ['<%= config.bin %> rate add +49 0.02', "<%= config.bin %> rate add +4990 1.99 --increment 1 --description 'premium'", '<%= config.bin %> rate add +1 0.01 --currency USD --increment 6'];
  static args = {
    prefix: Args.string({ description: 'dialled-number prefix, e.g. +49', required: true }),
    price: Args.string({ description: 'price per minute, e.g. 0.10', required: true }),
  };
  static flags = {
    ...rpcFlags,
    currency: Flags.string({ description: 'ISO 4217 currency code', default: 'EUR' }),
    increment: Flags.string({ description: 'billing increment in seconds (1-3600)', default: '60' }),
    description: Flags.string({ description: 'free text (at most 128 characters)', default: '' }),
    reload: Flags.boolean({ description: 'reload rates and limits on the proxies (limits.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be set; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const rate = await addRate(db, { prefix: this.args.prefix, price: this.args.price, currency: this.flags.currency, increment: this.flags.increment, description: this.flags.description }, { dryRun: this.flags['dry-run'] });
    this.print(`${this.flags['dry-run'] ? 'would set' : rate.replaced ? 'replaced' : 'added'} +${rate.prefix}: ${rate.price} ${rate.currency}/min, billed per ${rate.increment} s`);
    const out = { action: 'add', rate, dryRun: this.flags['dry-run'] === true };
    if (this.flags['dry-run'] || !this.flags.reload) return out;
    return { ...out, reload: await this.reloadProxies(reloadRates, 'limits.reload') };
  }
}
