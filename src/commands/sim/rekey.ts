import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { configuredKek } from '../../cli/sim-support.js';
import { UsageError } from '../../core/errors.js';

export default class SimRekey extends BaseCommand<typeof SimRekey> {
  static summary = 'Re-encrypt every SIM row under a new key-encryption key (or store them in the clear), atomically.';
  static description = `SIM keys at rest: with a key-encryption key (KEK) configured, Ki and OPc are sealed per row with AES-256-GCM (the IMSI as associated data) and the row records the key id. The KEK is 32 bytes as 64 hex digits, from a file of mode 0600 named by SIPCTL_SIM_KEK_FILE (or the config key simKekFile), or from the environment variable SIPCTL_SIM_KEK; never from a flag. Without one, keys are stored in the clear (the default, for HSS software that reads the table directly).

rekey opens every encrypted row with the configured KEK and seals it under the KEK in --new-kek-file (mode 0600); plain rows are sealed too, so "rekey --new-kek-file" with no KEK configured encrypts a plain table. --to-plain stores every row in the clear instead. All rows change in one transaction: a row that does not open (wrong key, tampered) changes nothing. Rows already under the new key are left alone, so an interrupted rekey can be run again. Afterwards configure the new KEK (it is printed by key id only). Stop other writers (sim add/import) meanwhile. "sipctl db status" shows the table's mode: plain, encrypted (with key ids) or mixed.`;
  static examples = [
    'openssl rand -hex 32 > /etc/sipctl/sim-kek-2.hex && chmod 600 /etc/sipctl/sim-kek-2.hex',
    'SIPCTL_SIM_KEK_FILE=/etc/sipctl/sim-kek-1.hex <%= config.bin %> sim rekey --new-kek-file /etc/sipctl/sim-kek-2.hex',
    'SIPCTL_SIM_KEK_FILE=/etc/sipctl/sim-kek-2.hex <%= config.bin %> sim rekey --to-plain',
  ];
  static flags = {
    'new-kek-file': Flags.string({ description: 'file (mode 0600) holding the new key-encryption key, 64 hex digits' }),
    'to-plain': Flags.boolean({ description: 'store every row in the clear (needs the configured KEK to open the encrypted ones)' }),
    'dry-run': Flags.boolean({ description: 'open every row and count what would change; write nothing' }),
  };

  async run() {
    const f = this.flags;
    if ((f['new-kek-file'] === undefined) === !f['to-plain']) throw new UsageError('SIM_REKEY_TARGET', 'give exactly one of --new-kek-file and --to-plain');
    const { kekFromFile } = await import('../../core/sim/kek.js');
    const to = f['new-kek-file'] !== undefined ? kekFromFile(f['new-kek-file'], '--new-kek-file') : undefined;
    const from = await configuredKek(this.cfg);
    const db = await this.openDb();
    const { rekeySims } = await import('../../core/sim/sim-at-rest.js');
    try {
      const r = await rekeySims(db, { from, to, dryRun: f['dry-run'] });
      const target = to ? `key id ${to.keyId}` : 'plain storage';
      this.print(`${r.dryRun ? 'would re-encrypt' : 're-encrypted'} ${r.changed} SIM row(s) to ${target}; ${r.unchanged} already there`);
      if (to && !r.dryRun) this.note(`now configure the new key: SIPCTL_SIM_KEK_FILE=${f['new-kek-file']} (or the config key simKekFile)`);
      if (!to && !r.dryRun) this.note('Ki and OPc are now stored in the clear: unset SIPCTL_SIM_KEK_FILE / simKekFile, or new cards will be encrypted again');
      return r;
    } finally {
      from?.wipe();
      to?.wipe();
    }
  }
}
