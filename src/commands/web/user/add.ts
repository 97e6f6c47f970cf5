import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../../cli/base-command.js';
import { promptSecret, readStdinValue } from '../../../cli/prompt.js';
import { UsageError } from '../../../core/errors.js';
import { AccountStore, MIN_WEB_PASSWORD } from '../../../core/web/accounts.js';

export default class WebUserAdd extends BaseCommand<typeof WebUserAdd> {
  static summary = 'Add an account of the web console.';
  static description = `The password is asked for (hidden, twice) on a terminal, or read from standard input with --password-stdin; it is never an argument. At least ${MIN_WEB_PASSWORD} characters, not containing the name. Stored as an scrypt hash with a random salt in web-users.json (mode 0600) in the sipctl config directory; the file is replaced atomically. Roles: viewer (reads every page, changes nothing) and operator (also changes). A running \`sipctl web\` sees the new account at once.`;
  static examples = [
    '<%= config.bin %> web user add ops --role operator   # needs: a terminal (asks for the password twice)',
    'printf %s "$PW" | <%= config.bin %> web user add noc --role viewer --password-stdin',
  ];
  static args = { name: Args.string({ description: 'account name (letters, digits, . _ @ -)', required: true }) };
  static flags = {
    role: Flags.string({ description: 'viewer (read only) or operator (may change)', options: ['viewer', 'operator'], default: 'viewer' }),
    'password-stdin': Flags.boolean({ description: 'read the password from standard input' }),
    'users-file': Flags.string({ description: 'accounts file (default: web-users.json in the sipctl config directory)', env: 'SIPCTL_WEB_USERS_FILE' }),
    'dry-run': Flags.boolean({ description: 'check name, role and password; write nothing' }),
  };

  async run() {
    const password = this.flags['password-stdin'] ? await readStdinValue() : await promptSecret('Password:', '--password-stdin', true);
    if (!password) throw new UsageError('EMPTY_PASSWORD', 'no password on standard input');
    const store = AccountStore.forEnv(process.env, this.flags['users-file']);
    const r = await store.add(this.args.name, this.flags.role, password, { dryRun: this.flags['dry-run'] });
    this.print(`${r.dryRun ? 'would add' : 'added'} web user ${r.name} (${r.role}) in ${store.file}`);
    return { ...r, file: store.file };
  }
}
