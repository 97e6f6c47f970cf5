import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { addUaRule, reloadUaRules } from '../../core/uafilter/uafilter.js';

export default class UafilterAdd extends RuleCommand<typeof UafilterAdd> {
  static summary = 'Allow a User-Agent pattern (regular expression) for a subscriber group, then reload the proxies.';
  static description = `Once a group has at least one pattern, its members' REGISTER and INVITE must carry a User-Agent matching one of them, else sipd answers 403 "User-Agent not allowed" (security event ua-refused). GROUP is a group of the grp table (\`sipctl acl\`), or '*' for every subscriber. PATTERN is a JavaScript regular expression, unanchored unless written with ^ or $; one that does not compile is refused (exit 2). The alternative to the scanner deny-list.`;
  static examples = [
    "<%= config.bin %> uafilter add phones '^Yealink SIP-T4[0-9]' --description 'desk phones'",
    "<%= config.bin %> uafilter add '*' '^(Linphone|Zoiper)' --no-reload",
  ];
  static args = {
    group: Args.string({ description: "subscriber group (grp table), '*' = every subscriber", required: true }),
    pattern: Args.string({ description: 'regular expression the User-Agent must match (quote it)', required: true }),
  };
  static flags = {
    ...rpcFlags,
    description: Flags.string({ description: 'free text (at most 128 characters)', default: '' }),
    reload: Flags.boolean({ description: 'reload the User-Agent rules on the proxies (uafilter.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const rule = await addUaRule(db, { grp: this.args.group, pattern: this.args.pattern, description: this.flags.description }, { dryRun: this.flags['dry-run'] });
    this.print(`${this.flags['dry-run'] ? 'would add' : `added rule ${rule.id}:`} ${rule.grp === '' ? 'every subscriber' : `group ${rule.grp}`} may use User-Agents matching /${rule.pattern}/`);
    const out = { action: 'add', rule, dryRun: this.flags['dry-run'] === true };
    if (this.flags['dry-run'] || !this.flags.reload) return out;
    return { ...out, reload: await this.reloadProxies(reloadUaRules, 'uafilter.reload') };
  }
}
