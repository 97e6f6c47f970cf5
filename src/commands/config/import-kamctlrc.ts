import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { writeConfigFile } from '../../core/config/config-file.js';
import { defaultConfigPaths, maskUrl } from '../../core/config/config.js';
import { readKamctlrc } from '../../core/config/kamctlrc.js';

export default class ConfigImportKamctlrc extends BaseCommand<typeof ConfigImportKamctlrc> {
  static summary = "Turn an existing kamctlrc into sipctl's config file, in one step.";
  static description = 'Reads DBENGINE, DBHOST, DBPORT, DBNAME, DBRWUSER, DBRWPW, DB_PATH, SIP_DOMAIN, STORE_PLAINTEXT_PW and MD5 (the hash tool; CMDHASH is accepted too). The file is written with mode 0600 because it holds the database password.';
  static examples = ['<%= config.bin %> config import-kamctlrc /etc/kamailio/kamctlrc', '<%= config.bin %> config import-kamctlrc /etc/kamailio/kamctlrc --output /etc/sipctl/config.json --force'];
  static args = { kamctlrc: Args.string({ description: 'path of the kamctlrc', required: true }) };
  static flags = {
    output: Flags.string({ char: 'o', description: 'config file to write (default: the user config file)' }),
    force: Flags.boolean({ description: 'replace an existing config file' }),
    'dry-run': Flags.boolean({ description: 'show what would be written' }),
  };

  async run() {
    const values = readKamctlrc(this.args.kamctlrc);
    const target = this.flags.output ?? defaultConfigPaths(process.env)[0];
    if (!this.flags['dry-run']) writeConfigFile(target, values, { force: this.flags.force });
    const shown = { ...values, ...(values.db ? { db: maskUrl(values.db) } : {}), ...(values.dbPassword !== undefined ? { dbPassword: '****' } : {}) };
    this.print(`${this.flags['dry-run'] ? 'would write' : 'wrote'} ${target}: ${Object.entries(shown).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    return { file: target, dryRun: !!this.flags['dry-run'], settings: shown };
  }
}
