import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, envelope, rpcFlags, writeJson, yesFlag } from '../../cli/rpc-support.js';
import { endCallOnNodes } from '../../core/calls/calls.js';
import { nodesError } from '../../core/proxy/node-set.js';

export default class CallsEnd extends RpcCommand<typeof CallsEnd> {
  static summary = 'End an active call: BYE to both sides (dlg.end_dlg).';
  static description = 'Asks first on a terminal; scripts pass --yes. Finds the call by its Call-ID in dlg.list and ends it with dlg.end_dlg (the proxy sends BYE to the caller and to the callee; the CDR records end reason "rpc"). With several nodes, the node that holds the call ends it; a Call-ID no node knows is exit code 3. On a sipd cluster (sipd --cluster) any one node reaches the call wherever it runs: when the node asked does not hold it, sipctl falls back to sipd\'s dialog.endCall, and the node that owns the call sends the BYEs — or, when that node is dead, the node asked takes the call over and sends them itself (CDR end reason "rpc;taken-over"); exit 3 when no node holds it, an RPC error when a live owner does not answer.';
  static examples = ['<%= config.bin %> calls end 8a1f3c@10.0.0.5 --yes   # needs: an active call with this Call-ID', '<%= config.bin %> calls end 8a1f3c@10.0.0.5 --node all --dry-run   # needs: an active call with this Call-ID'];
  static args = { callid: Args.string({ description: 'the Call-ID (see `sipctl calls list`)', required: true }) };
  static flags = { ...rpcFlags, yes: yesFlag, 'dry-run': dryRunFlag };

  async run() {
    const nodes = this.nodeSet();
    const callId = this.args.callid;
    const dryRun = this.flags['dry-run'];
    await this.confirmDestructive(`End call ${callId} (BYE to both sides)?`);
    const outcomes = await endCallOnNodes(nodes, callId, { dryRun });
    const json = envelope(outcomes, [], (v) => ({ ...v, ...(dryRun ? { dryRun: true } : {}) }));
    const err = nodesError(outcomes, outcomes.length);
    if (err) {
      if (this.jsonEnabled()) writeJson(json);
      throw err;
    }
    const ended = outcomes.reduce((n, o) => n + (o.ok ? o.value.ended : 0), 0);
    this.print(`${dryRun ? 'would end' : 'ended'} ${callId}${ended > 1 ? ` (${ended} dialogs)` : ''}: BYE ${dryRun ? 'to' : 'sent to'} both sides`);
    return json;
  }
}
