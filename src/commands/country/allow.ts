import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { scopeFlags, scopesOf } from '../../cli/country-flags.js';
import { addCountryRules, reloadCountryRules } from '../../core/country/country-rules.js';

export default class CountryAllow extends RuleCommand<typeof CountryAllow> {
  static summary = "Allow only these countries (ISO codes) per scope, or set a subscriber's home countries; then reload the proxies.";
  static description = "Once a scope has an allow list, sipd refuses requests from any other country with 403 \"Originating country not allowed\" (or drops them: country.action). An address without a country (private ranges) follows country.unknown (default allow). With --user, the codes are the subscriber's home countries: registering or calling from elsewhere is restricted (no international destinations) or refused, per country.home_policy.";
  static examples = ['<%= config.bin %> country allow DE,AT,CH --for register --for subscriber', '<%= config.bin %> country allow FR --user alice', '<%= config.bin %> country allow US --for carrier --no-reload'];
  static args = { codes: Args.string({ description: 'ISO 3166 alpha-2 codes, comma-separated, e.g. DE,AT,CH', required: true }) };
  static flags = {
    ...rpcFlags,
    ...scopeFlags,
    reload: Flags.boolean({ description: 'reload the country rules on the proxies (country.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const change = await addCountryRules(db, 'allow', this.args.codes.split(','), { scopes: scopesOf(this.flags.for), user: this.flags.user, dryRun: this.flags['dry-run'] });
    this.print(change.rules.length === 0 ? 'nothing to add: already listed' : change.rules.map((r) => `${change.dryRun ? 'would allow' : 'allow'} ${r.country} for ${r.scope === 'home' ? `home of ${r.username}` : r.scope}`).join('\n'));
    if (change.dryRun || !this.flags.reload || change.rules.length === 0) return change;
    return { ...change, reload: await this.reloadProxies(reloadCountryRules, 'country.reload') };
  }
}
