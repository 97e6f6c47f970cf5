import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Unban extends RpcCommand<typeof Unban> {
  static summary = 'Lift every ban on an IP address, on every node.';
  static description = `Deletes the address from the ipban table (pike flood bans) and every userban key of that address (failed-auth bans, keyed IP::user::auth_count and IP::user::last_auth as in the Kamailio security pattern). An address that was not banned is fine (exit 0). With several nodes each reports its own row; a node that fails gives a non-zero exit code and the others are still unbanned.`;
  static examples = ['<%= config.bin %> unban 203.0.113.7', '<%= config.bin %> unban 2001:db8::7 --node all --json'];
  static args = { ip: Args.string({ description: 'IPv4 or IPv6 address', required: true }) };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await ops.unban(this.opContext(), this.args.ip));
  }
}
