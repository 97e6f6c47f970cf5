import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { removeTrusted, trustedReload } from '../../core/trusted/trusted.js';

export default class TrustedRm extends RpcCommand<typeof TrustedRm> {
  static summary = 'Remove a peer from the permissions trusted table.';
  static description = 'Asks first on a terminal; scripts pass --yes. Removes every entry of SRC_IP, or only those with the transport given by --proto / the From pattern given by --from-pattern. Nothing matching is exit code 3. Add --reload to make the running proxies forget it at once.';
  static examples = ['<%= config.bin %> trusted rm 192.0.2.20 --yes --reload', '<%= config.bin %> trusted rm 2001:db8::20 --proto tcp --dry-run'];
  static args = { src_ip: Args.string({ description: 'source IPv4 or IPv6 address', required: true }) };
  static flags = {
    ...rpcFlags,
    proto: Flags.string({ description: 'only the entries of this transport' }),
    'from-pattern': Flags.string({ description: 'only the entries with exactly this From pattern' }),
    reload: Flags.boolean({ description: 'then reload the trusted table on the proxies (permissions.trustedReload)' }),
    'dry-run': dryRunFlag,
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    await this.confirmDestructive(`Remove the trusted entries of ${this.args.src_ip}?`);
    const change = await removeTrusted(db, this.args.src_ip, { proto: this.flags.proto, fromPattern: this.flags['from-pattern'], dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} ${e.srcIp} (${e.proto})${e.fromPattern ? ` From ~ ${e.fromPattern}` : ''}`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy forgets it on `sipctl trusted reload` (or use --reload)');
      return change;
    }
    const reload = await trustedReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
