import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class ShvGet extends RpcCommand<typeof ShvGet> {
  static summary = 'Show shared variables ($shv) of the running proxy (pv.shvGet; kamcli shv get).';
  static description = `One row per variable: NAME, TYPE (int or str), VALUE; --json gives [{name, type, value}]. A variable the proxy does not have is exit code 3: it exists only when the proxy's configuration declares it (Kamailio: modparam("pv", "shvset", "maint=i:0"); sipd: the pv module's shvset parameter).

Known limit of Kamailio 5.6: without NAME its JSON-RPC reply repeats the key "shv" inside one object, so over JSON-RPC only the last variable arrives; \`kamcmd pv.shvGet\` (binrpc) lists them all. Ask for a variable by name to be sure.`;
  static examples = ['<%= config.bin %> shv get', '<%= config.bin %> shv get maint --json'];
  static args = { name: Args.string({ description: 'variable name (none: every variable)' }) };
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.shvGet(this.opContext(), this.args.name));
  }
}
