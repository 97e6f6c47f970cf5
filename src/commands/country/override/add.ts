import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../../cli/rule-command.js';
import { rpcFlags } from '../../../cli/rpc-support.js';
import { reloadCountryRules, setCountryOverride } from '../../../core/country/country-rules.js';

export default class CountryOverrideAdd extends RuleCommand<typeof CountryOverrideAdd> {
  static summary = 'Map an address or CIDR network to a country (sipd_country_override), then reload the proxies.';
  static description = 'Overrides come before the data set, longest network first: correct a wrong entry, give your own ranges their country, or (in tests) map loopback sources to test countries. An existing override of the same network is replaced.';
  static examples = ["<%= config.bin %> country override add 198.51.100.0/24 DE --note 'office Berlin'", '<%= config.bin %> country override add 127.0.0.2 FR'];
  static args = {
    network: Args.string({ description: 'IPv4/IPv6 address or CIDR network', required: true }),
    country: Args.string({ description: 'ISO 3166 alpha-2 code', required: true }),
  };
  static flags = {
    ...rpcFlags,
    note: Flags.string({ description: 'free text (at most 128 characters)', default: '' }),
    reload: Flags.boolean({ description: 'reload the country rules on the proxies (country.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be set; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const change = await setCountryOverride(db, this.args.network, this.args.country, { note: this.flags.note, dryRun: this.flags['dry-run'] });
    const o = change.overrides[0]!;
    this.print(`${change.dryRun ? 'would map' : 'mapped'} ${o.network} to ${o.country}`);
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies(reloadCountryRules, 'country.reload') };
  }
}
