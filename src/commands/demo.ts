import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { SipctlError } from '../core/errors.js';
import { demoStateDir, runDemo } from '../core/demo/demo.js';

export default class Demo extends BaseCommand<typeof Demo> {
  static summary = 'Run the main job end to end: database, subscriber, carrier address, sipd, a REGISTER, a flood ban and its lifting.';
  static description = `Uses sipctl's database (by default SQLite in the user's data directory, created if missing) and runs sipd on 127.0.0.1 in its own state directory (default: sipd-demo beside sipd's default one), on free ports when 5060 / 5071 are taken. Shows each sipctl command as it runs: db init, add, address add, daemon start, address dump, ul dump after a REGISTER (sipp when installed, else a built-in UA), htable dump ipban after a bounded flood from 127.0.0.2, unban, daemon stop. sipd is stopped at the end whatever happens. Only loopback addresses are used; safe to run again.`;
  static examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --client builtin'];
  static enableJsonFlag = false;
  static flags = {
    'state-dir': Flags.string({ description: "the demo sipd's state directory (default: sipd-demo beside sipd's default state directory)" }),
    client: Flags.string({ description: 'who sends the REGISTER: sipp when installed (auto), sipp, or the built-in UA', options: ['auto', 'builtin', 'sipp'], default: 'auto' }),
  };

  async run() {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // sipctl's own settings travel to the demo's sipctl and sipd through the environment
    if (this.flags.config) env.SIPCTL_CONFIG = this.flags.config;
    if (this.flags.kamctlrc) env.SIPCTL_KAMCTLRC = this.flags.kamctlrc;
    if (this.flags.db) env.SIPCTL_DB = this.flags.db;
    const r = await runDemo({ stateDir: this.flags['state-dir'] ?? demoStateDir(env), client: this.flags.client as 'auto' | 'builtin' | 'sipp', env });
    if (!r.ok) throw new SipctlError('DEMO_FAILED', `the demo did not complete: ${r.failures.join('; ')}`, { category: 'internal' });
  }
}
