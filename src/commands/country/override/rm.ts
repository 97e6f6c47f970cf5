import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../../cli/rule-command.js';
import { rpcFlags, yesFlag } from '../../../cli/rpc-support.js';
import { reloadCountryRules, removeCountryOverride } from '../../../core/country/country-rules.js';

export default class CountryOverrideRm extends RuleCommand<typeof CountryOverrideRm> {
  static summary = 'Remove a CIDR → country override, then reload the proxies.';
  static description = 'Asks first on a terminal; scripts pass --yes. No such override: exit code 3.';
  static examples = ['<%= config.bin %> country override rm 198.51.100.0/24 --yes'];
  static args = { network: Args.string({ description: 'the overridden address or network', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'reload the country rules on the proxies (country.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const found = await removeCountryOverride(db, this.args.network, { dryRun: true });
      await this.confirmDestructive(`Remove the override ${found.overrides[0]!.network} → ${found.overrides[0]!.country}?`);
    }
    const change = await removeCountryOverride(db, this.args.network, { dryRun: this.flags['dry-run'] });
    this.print(`${change.dryRun ? 'would remove' : 'removed'} ${change.overrides[0]!.network} → ${change.overrides[0]!.country}`);
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies(reloadCountryRules, 'country.reload') };
  }
}
