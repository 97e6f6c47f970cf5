import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderRecord } from '../../cli/output.js';
import { configuredKek, keyFlags, keyReader, obtainKey, revealFlag, simPairs } from '../../cli/sim-support.js';


export default class SimAdd extends BaseCommand<typeof SimAdd> {
  static summary = 'Add one SIM card (IMSI, Ki and OPc) to the sim table.';
  static description = `The OPc is given (--opc), derived from the operator OP (--op; the OP is then discarded, never stored), or derived from a per-card OP drawn from a CSPRNG and discarded (--random-op).

Values are normalised (lower-case hex) and checked before anything is written: IMSI 6-15 digits; ICCID 18-20 digits with a valid Luhn check digit; Ki/OP/OPc 32 hex digits and not all zeros; OPc different from Ki; AMF 4 hex (default 8000); SQN 12 hex (default 000000000000). A card whose IMSI, ICCID or Ki is already stored is refused (exit 4).

With a key-encryption key configured (SIPCTL_SIM_KEK_FILE or SIPCTL_SIM_KEK, see "sim rekey"), Ki and OPc are stored encrypted (AES-256-GCM, the IMSI as associated data); without one they are stored in the clear.

Key flags are visible in process lists (a warning says so each time): prefer the --…-file forms (a path, or - for standard input) or, on a terminal, the hidden prompt that appears when a key is missing. Ki and OPc are masked in the output unless --reveal is given.`;
  static examples = [
    '<%= config.bin %> sim add 001010000000001 --ki-file ki.hex --op-file /etc/sipctl/op.hex --iccid 8944012401000010014',
    'printf %s "$KI" | <%= config.bin %> sim add 001010000000002 --ki-file - --random-op',
    '<%= config.bin %> sim add 001010000000003 --ki-file ki.hex --opc-file opc.hex --amf 8000 --msisdn +447700900003',
  ];
  static args = { imsi: Args.string({ description: 'IMSI, 6-15 digits', required: true }) };
  static flags = {
    ...keyFlags('ki'),
    ...keyFlags('opc'),
    ...keyFlags('op'),
    'random-op': Flags.boolean({ description: 'derive OPc from a random per-card OP, then discard the OP (instead of --opc or --op)' }),
    amf: Flags.string({ description: 'authentication management field, 4 hex digits', default: '8000' }),
    sqn: Flags.string({ description: 'initial sequence number, 12 hex digits', default: '000000000000' }),
    iccid: Flags.string({ description: 'ICCID, 18-20 digits with a valid Luhn check digit' }),
    'iccid-without-check-digit': Flags.boolean({ description: 'accept a 19-digit ICCID printed without its check digit' }),
    msisdn: Flags.string({ description: 'MSISDN, 3-15 digits with an optional leading +' }),
    batch: Flags.string({ description: 'batch label (up to 64 characters)' }),
    vendor: Flags.string({ description: 'SIM vendor (up to 64 characters)' }),
    reveal: revealFlag,
    'dry-run': Flags.boolean({ description: 'validate and check for clashes; write nothing' }),
  };

  async run() {
    const f = this.flags;
    const reader = keyReader();
    const ki = await obtainKey(reader, { field: 'ki', flag: '--ki', value: f.ki, file: f['ki-file'] }, { required: true });
    const opc = await obtainKey(reader, { field: 'opc', flag: '--opc', value: f.opc, file: f['opc-file'] }, { required: false });
    const op = await obtainKey(reader, { field: 'op', flag: '--op', value: f.op, file: f['op-file'] }, { required: false });
    let opcValue = opc;
    if (opc === undefined && op === undefined && !f['random-op']) {
      opcValue = await obtainKey(reader, { field: 'opc', flag: '--opc' }, { required: true, also: '--op, --op-file or --random-op' });
    }
    const kek = await configuredKek(this.cfg);
    const db = await this.openDb();
    const { addSim } = await import('../../core/sim/sim-records.js');
    const result = await addSim(
      db,
      {
        imsi: this.args.imsi, ki: ki!, opc: opcValue, op, randomOp: f['random-op'], amf: f.amf, sqn: f.sqn,
        iccid: f.iccid, msisdn: f.msisdn, batch: f.batch, vendor: f.vendor, allowNoCheckDigit: f['iccid-without-check-digit'],
      },
      { dryRun: f['dry-run'], reveal: f.reveal, kek },
    );
    kek?.wipe();
    const how = result.opcSource === 'op' ? ' (OPc derived from OP; OP not stored)' : result.opcSource === 'random-op' ? ' (OPc derived from a random OP, which was discarded)' : '';
    this.print(`${result.dryRun ? 'would add' : 'added'} SIM ${result.sim.imsi}${how}`);
    if (f.reveal) this.print(await renderRecord(simPairs(result.sim), this.out));
    // After the work: an error stays one line (what scripts read).
    for (const w of reader.warnings) this.note(`warning: ${w}`);
    return { ...result, encrypted: kek !== undefined, ...(reader.warnings.length ? { warnings: reader.warnings } : {}) };
  }
}
