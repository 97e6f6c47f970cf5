import { Args } from '@oclif/core';
import { RpcCommand, envelope, rpcFlags, writeJson } from '../../cli/rpc-support.js';
import { sendTestAlert } from '../../core/alerts/alerts.js';
import { nodesError } from '../../core/proxy/node-set.js';

export default class AlertsTest extends RpcCommand<typeof AlertsTest> {
  static summary = 'Send a test alert through sipd\'s alert sinks (alerts.test).';
  static description = `sipd delivers it like any security alert — to its webhooks (signed), exec hook and syslog, as configured under modules.alerts — and logs it. Use it after changing the alert configuration to see the receiver get it. Not deduplicated; counts against alerts.max_per_minute.`;
  static examples = ['<%= config.bin %> alerts test', '<%= config.bin %> alerts test "webhook check after the firewall change"'];
  static args = { message: Args.string({ description: 'text carried in the alert\'s details.detail' }) };
  static flags = { ...rpcFlags };

  async run() {
    const nodes = this.nodeSet();
    const outcomes = await nodes.each((c) => sendTestAlert(c, this.args.message));
    for (const o of outcomes) {
      if (!o.ok) continue;
      const where = o.value.sinks.length > 0 ? o.value.sinks.join(', ') : 'sipd\'s log only (no webhook, exec hook or syslog configured)';
      this.print(`${nodes.multi ? `${o.node}: ` : ''}test alert ${o.value.alert.id} sent to ${where}`);
    }
    const json = envelope(outcomes);
    const err = nodesError(outcomes, nodes.nodes.length);
    if (err) {
      if (this.jsonEnabled()) writeJson(json);
      throw err;
    }
    return json;
  }
}
