import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { confirmAction } from '../../cli/prompt.js';
import { getSim, removeSim } from '../../core/sim/sim-records.js';

export default class SimRm extends BaseCommand<typeof SimRm> {
  static summary = 'Remove a SIM card.';
  static description = 'Asks for confirmation on a terminal; scripts pass --yes.';
  static examples = ['<%= config.bin %> sim rm 001010000000001 --yes'];
  static args = { imsi: Args.string({ description: 'IMSI', required: true }) };
  static flags = {
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      // Check it exists before asking, so nobody confirms the removal of nothing.
      const sim = await getSim(db, this.args.imsi);
      await confirmAction(`Remove SIM ${sim.imsi}?`, this.flags.yes);
    }
    const change = await removeSim(db, this.args.imsi, { dryRun: this.flags['dry-run'] });
    this.print(`${change.dryRun ? 'would remove' : 'removed'} SIM ${change.imsi}`);
    return change;
  }
}
