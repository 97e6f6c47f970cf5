import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { domainReload } from '../../core/domain/domains.js';

export default class DomainReload extends RpcCommand<typeof DomainReload> {
  static summary = 'Make the running proxies reload the domain table (domain.reload; kamctl domain reload).';
  static description = 'Kamailio answers an empty result; sipctl reports "domain table reloaded" per node.';
  static examples = ['<%= config.bin %> domain reload', '<%= config.bin %> domain reload --node all'];
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await domainReload(this.opContext()));
  }
}
