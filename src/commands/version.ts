import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Version extends RpcCommand<typeof Version> {
  static summary = 'The version of sipctl and of each proxy (core.version).';
  static examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  static flags = { ...rpcFlags };

  async run() {
    this.print(`sipctl ${this.config.version} (node ${process.version})`);
    const result = await ops.version(this.opContext());
    const nodes = await this.finish(result, { json: (r) => ({ sipctl: this.config.version, node: process.version, proxies: r.outcomes.map((o) => (o.ok ? { node: o.node, ok: true, ...(o.value as object) } : { node: o.node, ok: false, error: { code: o.error.code, message: o.error.message } })) }) });
    return nodes;
  }
}
