import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { domainDump } from '../../core/domain/domains.js';

export default class DomainDump extends RpcCommand<typeof DomainDump> {
  static summary = 'What the running proxy has loaded from the domain table (domain.dump; kamctl domain dump).';
  static description = 'Each domain with its did and the names of its attributes. Compare with `sipctl domain show` (the database) to see whether a reload is due.';
  static examples = ['<%= config.bin %> domain dump', '<%= config.bin %> domain dump --node all --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await domainDump(this.opContext()));
  }
}
