import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { domainReload, removeDomain } from '../../core/domain/domains.js';

export default class DomainRm extends RpcCommand<typeof DomainRm> {
  static summary = 'Remove a SIP domain from the domain table (kamctl domain rm).';
  static description = 'Asks first on a terminal; scripts pass --yes. A domain that is not there is exit code 3. Attributes in domain_attrs stay (their did may belong to other domains too). Add --reload to make the running proxies forget it at once.';
  static examples = ['<%= config.bin %> domain rm sip.example.com --yes --reload', '<%= config.bin %> domain rm example.net --dry-run'];
  static args = { domain: Args.string({ description: 'hostname or IP address', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'then reload the domain table on the proxies (domain.reload)' }),
    'dry-run': dryRunFlag,
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    await this.confirmDestructive(`Remove domain ${this.args.domain}?`);
    const change = await removeDomain(db, this.args.domain, { dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} domain ${e.domain}`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy forgets it on `sipctl domain reload` (or use --reload)');
      return change;
    }
    const reload = await domainReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
