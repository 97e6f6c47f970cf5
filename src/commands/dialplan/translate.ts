import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { dialplanTranslate } from '../../core/dialplan/dialplan.js';

export default class DialplanTranslate extends RpcCommand<typeof DialplanTranslate> {
  static summary = 'Ask the running proxy what a dialplan makes of INPUT (dialplan.translate; kamcmd dialplan.translate).';
  static description = 'Prints the output and the matching rule\'s attrs. An unknown dialplan id or no matching rule is exit code 3.';
  static examples = ['<%= config.bin %> dialplan translate 1 004930123456', '<%= config.bin %> dialplan translate 1 004930123456 --json'];
  static args = {
    dpid: Args.string({ description: 'dialplan id', required: true }),
    input: Args.string({ description: 'the string to translate, e.g. a dialled number', required: true }),
  };
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await dialplanTranslate(this.opContext(), this.args.dpid, this.args.input));
  }
}
