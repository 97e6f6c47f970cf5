import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderRecord } from '../../cli/output.js';
import { nextVector } from '../../core/sim/sim-records.js';
import { configuredKek } from '../../cli/sim-support.js';

export default class SimVector extends BaseCommand<typeof SimVector> {
  static summary = 'Compute an authentication vector (RAND, AUTN, XRES, CK, IK) and advance the SQN.';
  static description = `Milenage (3GPP TS 35.206) with the stored Ki, OPc and AMF. The vector uses SQN = stored SQN + 32 (SEQ + 1 with the 5-bit IND kept, TS 33.102 Annex C) and stores it; the advance is atomic, so concurrent calls never share an SQN. RAND is random unless --rand is given.

AUTN = (SQN XOR AK) || AMF || MAC-A. Ki and OPc are never printed.`;
  static examples = ['<%= config.bin %> sim vector 001010000000001', '<%= config.bin %> sim vector 001010000000001 --rand 23553cbe9637a89d218ae64dae47bf35 --json'];
  static args = { imsi: Args.string({ description: 'IMSI', required: true }) };
  static flags = { rand: Flags.string({ description: 'RAND, 32 hex digits (default: 16 random bytes)' }) };

  async run() {
    const db = await this.openDb();
    const kek = await configuredKek(this.cfg);
    const v = await nextVector(db, this.args.imsi, this.flags.rand, { kek });
    kek?.wipe();
    this.print(await renderRecord([['imsi', v.imsi], ['sqn', v.sqn], ['rand', v.rand], ['autn', v.autn], ['xres', v.xres], ['ck', v.ck], ['ik', v.ik], ['ak', v.ak]], this.out));
    return v;
  }
}
