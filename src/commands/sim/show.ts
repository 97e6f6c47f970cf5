import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderRecord } from '../../cli/output.js';
import { getSim } from '../../core/sim/sim-records.js';
import { configuredKek, revealFlag, simPairs } from '../../cli/sim-support.js';

export default class SimShow extends BaseCommand<typeof SimShow> {
  static summary = 'Show one SIM card.';
  static description = 'Ki and OPc are shown as **** unless --reveal is given; --json follows the same rule.';
  static examples = ['<%= config.bin %> sim show 001010000000001', '<%= config.bin %> sim show 001010000000001 --reveal --json'];
  static args = { imsi: Args.string({ description: 'IMSI', required: true }) };
  static flags = { reveal: revealFlag };

  async run() {
    const db = await this.openDb();
    const kek = this.flags.reveal ? await configuredKek(this.cfg) : undefined;
    const sim = await getSim(db, this.args.imsi, { reveal: this.flags.reveal, kek });
    kek?.wipe();
    this.print(await renderRecord(simPairs(sim), this.out));
    return sim;
  }
}
