import { Flags } from '@oclif/core';
import { BaseCommand } from '../../../cli/base-command.js';
import { renderTable } from '../../../cli/output.js';
import { AccountStore } from '../../../core/web/accounts.js';

export default class WebUserList extends BaseCommand<typeof WebUserList> {
  static summary = 'List the accounts of the web console (names and roles; never the hashes).';
  static examples = ['<%= config.bin %> web user list', '<%= config.bin %> web user list --json'];
  static flags = {
    'users-file': Flags.string({ description: 'accounts file (default: web-users.json in the sipctl config directory)', env: 'SIPCTL_WEB_USERS_FILE' }),
  };

  async run() {
    const store = AccountStore.forEnv(process.env, this.flags['users-file']);
    const users = store.list();
    if (users.length === 0) this.note('no web users (add one with `sipctl web user add NAME`)');
    else this.print(await renderTable(users, [{ header: 'NAME', get: (u) => u.name }, { header: 'ROLE', get: (u) => u.role }, { header: 'CREATED', get: (u) => u.created }], this.out));
    return { file: store.file, users };
  }
}
