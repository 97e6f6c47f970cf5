import { RpcCommand, resultJson, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Version extends RpcCommand<typeof Version> {
  static summary = 'The version of sipctl and of each proxy (core.version).';
  static examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  static flags = { ...rpcFlags };

  async run() {
    this.print(`sipctl ${this.config.version} (node ${process.version})`);
    const result = await ops.version(this.opContext());
    // the proxy envelope plus sipctl's own version (nodejs: the runtime; nodes: the proxies)
    return this.finish(result, { json: (r) => ({ sipctl: this.config.version, nodejs: process.version, ...resultJson(r) }) });
  }
}
