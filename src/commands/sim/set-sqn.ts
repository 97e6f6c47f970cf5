import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { setSqn } from '../../core/sim/sim-records.js';

export default class SimSetSqn extends BaseCommand<typeof SimSetSqn> {
  static summary = 'Set the stored sequence number (SQN) of a SIM card.';
  static description = 'SQN is 12 hex digits (48 bits). The stored value is the SQN last issued: the next `sim vector` uses it + 32 (SEQ + 1, the 5-bit IND kept).';
  static examples = ['<%= config.bin %> sim set-sqn 001010000000001 000000000020'];
  static args = {
    imsi: Args.string({ description: 'IMSI', required: true }),
    sqn: Args.string({ description: 'new SQN, 12 hex digits', required: true }),
  };

  async run() {
    const db = await this.openDb();
    const change = await setSqn(db, this.args.imsi, this.args.sqn);
    this.print(`SQN of ${change.imsi} set to ${change.sqn} (was ${change.previousSqn})`);
    return change;
  }
}
