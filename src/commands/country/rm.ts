import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { scopeFlags, scopesOf } from '../../cli/country-flags.js';
import { reloadCountryRules, removeCountryRules } from '../../core/country/country-rules.js';

export default class CountryRm extends RuleCommand<typeof CountryRm> {
  static summary = 'Remove countries from the allow/block lists (or a subscriber\'s home countries), then reload the proxies.';
  static description = 'Asks first on a terminal; scripts pass --yes. Without --for, the codes go from all three scopes; with --user, from the subscriber\'s home countries. No such rule: exit code 3.';
  static examples = ['<%= config.bin %> country rm KP --yes', '<%= config.bin %> country rm DE,AT --for register --yes', '<%= config.bin %> country rm FR --user alice --yes'];
  static args = { codes: Args.string({ description: 'ISO 3166 alpha-2 codes, comma-separated', required: true }) };
  static flags = {
    ...rpcFlags,
    ...scopeFlags,
    reload: Flags.boolean({ description: 'reload the country rules on the proxies (country.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    const opts = { scopes: scopesOf(this.flags.for), user: this.flags.user };
    const codes = this.args.codes.split(',');
    if (!this.flags['dry-run']) {
      const found = await removeCountryRules(db, codes, { ...opts, dryRun: true });
      await this.confirmDestructive(`Remove ${found.rules.length} country rule${found.rules.length === 1 ? '' : 's'}?`);
    }
    const change = await removeCountryRules(db, codes, { ...opts, dryRun: this.flags['dry-run'] });
    this.print(change.rules.map((r) => `${change.dryRun ? 'would remove' : 'removed'} ${r.action} ${r.country} for ${r.scope === 'home' ? `home of ${r.username}` : r.scope}`).join('\n'));
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies(reloadCountryRules, 'country.reload') };
  }
}
