import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { resyncSim } from '../../core/sim/sim-records.js';
import { configuredKek } from '../../cli/sim-support.js';

export default class SimResync extends BaseCommand<typeof SimResync> {
  static summary = 'Resynchronise the SQN from an AUTS sent by the card (TS 33.102 §6.3.5).';
  static description = 'Verifies MAC-S in AUTS for the RAND of the rejected challenge, recovers SQN_MS and stores it, so the next vector uses SQN_MS + 32. If MAC-S does not verify nothing is changed (exit 2).';
  static examples = ['<%= config.bin %> sim resync 001010000000001 --rand 23553cbe9637a89d218ae64dae47bf35 --auts 0123456789abcdef0123456789ab'];
  static args = { imsi: Args.string({ description: 'IMSI', required: true }) };
  static flags = {
    rand: Flags.string({ description: 'RAND of the challenge the card rejected, 32 hex digits', required: true }),
    auts: Flags.string({ description: 'AUTS from the card, 28 hex digits', required: true }),
  };

  async run() {
    const db = await this.openDb();
    const kek = await configuredKek(this.cfg);
    const r = await resyncSim(db, this.args.imsi, this.flags.rand, this.flags.auts, { kek });
    kek?.wipe();
    this.print(`SQN of ${r.imsi} resynchronised to ${r.sqnMs} (was ${r.previousSqn}); next vector uses ${r.nextSqn}`);
    return r;
  }
}
