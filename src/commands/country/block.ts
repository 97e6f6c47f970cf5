import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { scopeFlags, scopesOf } from '../../cli/country-flags.js';
import { addCountryRules, reloadCountryRules } from '../../core/country/country-rules.js';

export default class CountryBlock extends RuleCommand<typeof CountryBlock> {
  static summary = "Refuse requests from these countries (ISO codes) per scope, then reload the proxies.";
  static description = "sipd answers requests whose source address is in a blocked country with 403 \"Originating country not allowed\" (or drops them: country.action). Without --for, all three scopes (register, subscriber, carrier).";
  static examples = ['<%= config.bin %> country block KP,IR', '<%= config.bin %> country block CU --for register'];
  static args = { codes: Args.string({ description: 'ISO 3166 alpha-2 codes, comma-separated, e.g. DE,AT,CH', required: true }) };
  static flags = {
    ...rpcFlags,
    ...scopeFlags,
    reload: Flags.boolean({ description: 'reload the country rules on the proxies (country.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const change = await addCountryRules(db, 'block', this.args.codes.split(','), { scopes: scopesOf(this.flags.for), user: this.flags.user, dryRun: this.flags['dry-run'] });
    this.print(change.rules.length === 0 ? 'nothing to add: already listed' : change.rules.map((r) => `${change.dryRun ? 'would block' : 'block'} ${r.country} for ${r.scope === 'home' ? `home of ${r.username}` : r.scope}`).join('\n'));
    if (change.dryRun || !this.flags.reload || change.rules.length === 0) return change;
    return { ...change, reload: await this.reloadProxies(reloadCountryRules, 'country.reload') };
  }
}
