import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags } from '../../cli/rpc-support.js';
import { addDomain, domainReload } from '../../core/domain/domains.js';

export default class DomainAdd extends RpcCommand<typeof DomainAdd> {
  static summary = 'Add a SIP domain the proxy serves (kamctl domain add).';
  static description = `DOMAIN is a hostname (stored in lower case) or an IP address (IPv6 in brackets, as Kamailio writes a URI host). The same domain twice is a conflict (exit 4). --did sets the domain id that groups several domains and their attributes (Kamailio uses the domain itself when there is none).

The running proxy (domain module) sees the change after a reload: add --reload to do both in one step, on every node.`;
  static examples = [
    '<%= config.bin %> domain add sip.example.com --reload',
    '<%= config.bin %> domain add example.net --did example',
    '<%= config.bin %> domain add 192.0.2.10 --dry-run',
  ];
  static args = { domain: Args.string({ description: 'hostname or IP address', required: true }) };
  static flags = {
    ...rpcFlags,
    did: Flags.string({ description: 'domain id (default: none, i.e. the domain itself)' }),
    reload: Flags.boolean({ description: 'then reload the domain table on the proxies (domain.reload)' }),
    'dry-run': dryRunFlag,
  };

  async run() {
    const db = await this.openDb();
    const change = await addDomain(db, { domain: this.args.domain, did: this.flags.did }, { dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would add' : 'added'} domain ${e.domain}${e.did ? ` (did ${e.did})` : ''}`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy loads it on `sipctl domain reload` (or use --reload)');
      return change;
    }
    const reload = await domainReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
