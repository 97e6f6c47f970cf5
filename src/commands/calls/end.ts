import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { endCall, type EndedCall } from '../../core/calls/calls.js';
import { nodesError, type NodeOutcome } from '../../core/proxy/node-set.js';

export default class CallsEnd extends RpcCommand<typeof CallsEnd> {
  static summary = 'End an active call: BYE to both sides (dlg.end_dlg).';
  static description = 'Finds the call by its Call-ID in dlg.list and ends it with dlg.end_dlg (the proxy sends BYE to the caller and to the callee; the CDR records end reason "rpc"). With several nodes, the node that holds the call ends it; a Call-ID no node knows is exit code 3.';
  static examples = ['<%= config.bin %> calls end 8a1f3c@10.0.0.5', '<%= config.bin %> calls end 8a1f3c@10.0.0.5 --node all'];
  static args = { callid: Args.string({ description: 'the Call-ID (see `sipctl calls list`)', required: true }) };
  static flags = { ...rpcFlags };

  async run() {
    const nodes = this.nodeSet();
    let outcomes: Array<NodeOutcome<EndedCall>> = await nodes.each((c) => endCall(c, this.args.callid));
    // with several nodes the call lives on one: "not found" elsewhere is expected
    const notFound = (o: NodeOutcome<EndedCall>) => !o.ok && o.error.code === 'CALL_NOT_FOUND';
    if (outcomes.length > 1 && !outcomes.every(notFound)) outcomes = outcomes.filter((o) => !notFound(o));
    const err = nodesError(outcomes, outcomes.length);
    if (err) throw err;
    const ended = outcomes.reduce((n, o) => n + (o.ok ? o.value.ended : 0), 0);
    this.print(`ended ${this.args.callid}${ended > 1 ? ` (${ended} dialogs)` : ''}: BYE sent to both sides`);
    return { callId: this.args.callid, ended, ...(nodes.multi ? { nodes: outcomes.filter((o) => o.ok).map((o) => o.node) } : {}) };
  }
}
