import { Args, Flags, type Interfaces } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderRecord } from '../../cli/output.js';
import { canPrompt, promptSecret, readStdinValue } from '../../cli/prompt.js';
import { UsageError } from '../../core/errors.js';
import { createKeyReader, type KeyInput, type KeyReader } from '../../core/sim/key-input.js';
import type { SimView } from '../../core/sim/sim-records.js';

// ---- Shared by the sim commands that take key material (opc, add, import). Kept here, not in
// ---- src/cli/, only because this change may not touch src/cli/; it belongs in src/cli/sim-support.ts.

const KEY_NAMES = { ki: 'Ki (subscriber key)', op: 'OP (operator key)', opc: 'OPc' } as const;

/** --ki/--ki-file, --op/--op-file, --opc/--opc-file: the value, or a file (path or - for stdin). */
export function keyFlags<N extends keyof typeof KEY_NAMES>(name: N, opts: { prompt?: boolean } = {}) {
  const prefer = opts.prompt === false ? `--${name}-file` : `--${name}-file or the prompt`;
  return {
    // No oclif `exclusive`: its message quotes the flag's value (a key); the key reader refuses both, naming only the flags.
    [name]: Flags.string({ description: `${KEY_NAMES[name]}, 32 hex digits (visible in process lists: prefer ${prefer})` }),
    [`${name}-file`]: Flags.string({ description: `read ${KEY_NAMES[name].replace(/ \(.*\)/, '')} from this file (32 hex digits), or - for standard input` }),
  } as Record<N | `${N}-file`, Interfaces.OptionFlag<string | undefined>>;
}

export function keyReader(stdinTaken?: string): KeyReader {
  return createKeyReader(readStdinValue, { stdinTaken });
}

/**
 * A key from its flag or file; when neither is given: a hidden prompt on a terminal, else a usage
 * error naming the flags (`also` lists alternatives, e.g. "--op or --random-op").
 */
export async function obtainKey(reader: KeyReader, input: KeyInput, opts: { required: boolean; also?: string }): Promise<string | undefined> {
  const v = await reader.read(input);
  if (v !== undefined || !opts.required) return v;
  const ways = `${input.flag}-file PATH (- for standard input) or ${input.flag}${opts.also ? `, or ${opts.also}` : ''}`;
  if (!canPrompt() || reader.stdinUsed) {
    throw new UsageError('MISSING_KEY', `${input.field}: missing: give ${ways}`, 'on a terminal sipctl asks for it');
  }
  return promptSecret(`${input.field === 'ki' ? 'Ki' : input.field === 'opc' ? 'OPc' : 'OP'} (32 hex digits, hidden):`, ways);
}

export function simPairs(s: SimView): Array<[string, unknown]> {
  return [
    ['imsi', s.imsi],
    ['iccid', s.iccid ?? ''],
    ['msisdn', s.msisdn ?? ''],
    ['ki', s.ki],
    ['opc', s.opc],
    ['amf', s.amf],
    ['sqn', s.sqn],
    ['batch', s.batch ?? ''],
    ['vendor', s.vendor ?? ''],
    ['created', s.createdAt],
    ['updated', s.updatedAt],
  ];
}

export const revealFlag = Flags.boolean({ description: 'show Ki and OPc (masked as **** otherwise, also with --json)' });

// ----

export default class SimAdd extends BaseCommand<typeof SimAdd> {
  static summary = 'Add one SIM card (IMSI, Ki and OPc) to the sim table.';
  static description = `The OPc is given (--opc), derived from the operator OP (--op; the OP is then discarded, never stored), or derived from a per-card OP drawn from a CSPRNG and discarded (--random-op).

Values are normalised (lower-case hex) and checked before anything is written: IMSI 6-15 digits; ICCID 18-20 digits with a valid Luhn check digit; Ki/OP/OPc 32 hex digits and not all zeros; OPc different from Ki; AMF 4 hex (default 8000); SQN 12 hex (default 000000000000). A card whose IMSI, ICCID or Ki is already stored is refused (exit 4).

Key flags are visible in process lists: prefer the --…-file forms (a path, or - for standard input) or, on a terminal, the hidden prompt that appears when a key is missing. Ki and OPc are masked in the output unless --reveal is given.`;
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
    for (const w of reader.warnings) this.note(`warning: ${w}`);
    const db = await this.openDb();
    const { addSim } = await import('../../core/sim/sim-records.js');
    const result = await addSim(
      db,
      {
        imsi: this.args.imsi, ki: ki!, opc: opcValue, op, randomOp: f['random-op'], amf: f.amf, sqn: f.sqn,
        iccid: f.iccid, msisdn: f.msisdn, batch: f.batch, vendor: f.vendor, allowNoCheckDigit: f['iccid-without-check-digit'],
      },
      { dryRun: f['dry-run'], reveal: f.reveal },
    );
    const how = result.opcSource === 'op' ? ' (OPc derived from OP; OP not stored)' : result.opcSource === 'random-op' ? ' (OPc derived from a random OP, which was discarded)' : '';
    this.print(`${result.dryRun ? 'would add' : 'added'} SIM ${result.sim.imsi}${how}`);
    if (f.reveal) this.print(await renderRecord(simPairs(result.sim), this.out));
    return result;
  }
}
