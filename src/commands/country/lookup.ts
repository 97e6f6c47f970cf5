import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { lookupCountry } from '../../core/country/country-rules.js';

export default class CountryLookup extends RpcCommand<typeof CountryLookup> {
  static summary = 'The country a running sipd sees for an address (its data set and the overrides).';
  static description = 'Asks the proxy (country.lookup), so the answer is the one its rules use: from an override, from the data set (tor-geoipdb or an MMDB file), or none (private ranges, gaps). The data is IPFire Location (CC BY-SA 4.0) when sipd reads Debian\'s tor-geoipdb.';
  static examples = ['<%= config.bin %> country lookup 81.2.69.142', '<%= config.bin %> country lookup 2001:db8::1 --json'];
  static args = { ip: Args.string({ description: 'IPv4 or IPv6 address', required: true }) };
  static flags = { ...rpcFlags };

  async run() {
    const nodes = this.nodeSet();
    const r = await lookupCountry(nodes.client(nodes.nodes[0]!), this.args.ip);
    this.print(`${r.ip}\t${r.country ?? 'unknown'}\t${r.source}`);
    return r;
  }
}
