import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';
import { parseKamcmdParams } from '../../core/rpc/params.js';

export default class Rpc extends RpcCommand<typeof Rpc> {
  static summary = 'Call any RPC method on the proxy, like kamcmd.';
  static description = `Parameters are typed as kamcmd types them: a bare integer is a number, anything else a string; force a type with i: (integer), s: (string), d: (double) or j: (raw JSON). The result is printed as YAML-like text, with any control characters from the proxy escaped; --json prints the raw JSON-RPC result.

Unlike kamcmd, a JSON-RPC error from the proxy is an error: exit code 6. With several nodes the call goes to every node.`;
  static examples = [
    '<%= config.bin %> rpc core.uptime',
    '<%= config.bin %> rpc htable.sets ipban 1.2.3.4 s:1',
    '<%= config.bin %> rpc system.listMethods --json',
    '<%= config.bin %> rpc ul.lookup location 61312341234 --rpc fifo:/run/kamailio/kamailio_rpc.fifo',
  ];
  static strict = false;
  static args = {
    method: Args.string({ description: 'method name, e.g. core.uptime, htable.dump', required: true }),
    params: Args.string({ description: 'parameters (kamcmd-style: 5, s:007, i:5, d:1.5, j:{"a":1})' }),
  };
  static flags = { ...rpcFlags };

  async run() {
    const { argv } = await this.parse(Rpc);
    const [method, ...rest] = argv as string[];
    const params = parseKamcmdParams(rest);
    return this.finish(await ops.raw(this.opContext(), method!, params));
  }
}
