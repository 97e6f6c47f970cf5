import { BaseCommand } from '../../cli/base-command.js';
import { deriveOpcHex } from '../../core/sim/milenage.js';
import { normaliseKey } from '../../core/sim/validation.js';
import { keyFlags, keyReader, obtainKey } from '../../cli/sim-support.js';

export default class SimOpc extends BaseCommand<typeof SimOpc> {
  static summary = 'Derive OPc from Ki and the operator OP (3GPP TS 35.206) and print it; no database.';
  static description = `Prints OPc = OP XOR AES-128(Ki, OP) as 32 lower-case hex digits, and nothing else.

Key flags are visible in process lists: prefer --ki-file / --op-file (a path, or - for standard input for one of them) or, on a terminal, the hidden prompts.`;
  static examples = [
    '<%= config.bin %> sim opc --ki-file ki.hex --op-file /etc/sipctl/op.hex',
    '<%= config.bin %> sim opc --ki 465b5ce8b199b49faa5f0a2ee238a6bc --op cdc202d5123e20f62b6d676ac72cb318',
  ];
  static flags = {
    ...keyFlags('ki'),
    ...keyFlags('op'),
  };

  async run() {
    const reader = keyReader();
    const ki = await obtainKey(reader, { field: 'ki', flag: '--ki', value: this.flags.ki, file: this.flags['ki-file'] }, { required: true });
    const op = await obtainKey(reader, { field: 'op', flag: '--op', value: this.flags.op, file: this.flags['op-file'] }, { required: true });
    const opc = deriveOpcHex(normaliseKey('ki', ki!), normaliseKey('op', op!));
    this.print(opc);
    // After the work: an error stays one line (what scripts read).
    for (const w of reader.warnings) this.note(`warning: ${w}`);
    return { opc, ...(reader.warnings.length ? { warnings: reader.warnings } : {}) };
  }
}
