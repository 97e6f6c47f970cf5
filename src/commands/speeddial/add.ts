import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { dryRunFlag } from '../../cli/rpc-support.js';
import { addSpeedDial } from '../../core/speeddial/speeddial.js';

export default class SpeeddialAdd extends BaseCommand<typeof SpeeddialAdd> {
  static summary = 'Add a speed dial entry for a user (kamctl speeddial add; speeddial module, speed_dial table).';
  static description = 'When USER dials SHORT, sd_lookup() in the config turns the Request-URI into TARGET (a sip:, sips: or tel: URI). The table is read on every call, so no reload is needed. The same SHORT twice for a user is a conflict (exit 4).';
  static examples = ['<%= config.bin %> speeddial add alice@sip.example.com 11 sip:bob@sip.example.com', '<%= config.bin %> speeddial add alice 12 tel:+4930123456 -d sip.example.com --description "office"'];
  static args = {
    user: Args.string({ description: 'USER[@DOMAIN] who dials', required: true }),
    short: Args.string({ description: 'the short number, e.g. 11', required: true }),
    target: Args.string({ description: 'the URI it stands for', required: true }),
  };
  static flags = { domain: Flags.string({ char: 'd', description: 'domain for users given without @domain (also SIPCTL_DOMAIN or the config file)' }), description: Flags.string({ description: 'free text (at most 64 characters)' }), 'dry-run': dryRunFlag };

  async run() {
    const db = await this.openDb();
    const change = await addSpeedDial(db, this.args.user, this.args.short, this.args.target, { defaultDomain: this.flags.domain ?? this.cfg.values.domain, description: this.flags.description, dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would add' : 'added'} speed dial ${e.short} → ${e.target} for ${e.user}`);
    return change;
  }
}
