import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags } from '../../cli/rpc-support.js';
import { UsageError } from '../../core/errors.js';
import { addUacreg, uacregRefresh } from '../../core/uacreg/uacreg.js';

export default class UacregAdd extends RpcCommand<typeof UacregAdd> {
  static summary = 'Add a registration the proxy makes to a remote registrar (uac module, uacreg table; kamcli uacreg add).';
  static description = `L_UUID names the record; LOCAL (l_username@l_domain) is how calls from the carrier are matched; REMOTE (r_username@r_domain) is the identity registered at AUTH_PROXY. realm and auth_username default to the remote domain and user. The auth password is a secret: it is read from standard input (--password-stdin) or asked for on a terminal, never taken from the command line, and never printed (listings show ${'********'}). The same L_UUID twice is a conflict (exit 4).

The running proxy starts registering after --refresh (uac.reg_refresh of this record, on every node) or \`sipctl uacreg reload\`.`;
  static examples = [
    'printf %s "$PW" | <%= config.bin %> uacreg add carrier1 4930123456@sip.example.com 4930123456@carrier.example sip:carrier.example:5060 --password-stdin',
    'printf %s "$PW" | <%= config.bin %> uacreg add pbx2 pbx2@sip.example.com trunk7@pbx.example sip:192.0.2.40 --password-stdin --realm pbx.example --expires 600 --dry-run',
  ];
  static args = {
    l_uuid: Args.string({ description: 'record name, unique (at most 64 characters)', required: true }),
    local: Args.string({ description: 'local identity l_username@l_domain', required: true }),
    remote: Args.string({ description: 'remote identity r_username@r_domain', required: true }),
    auth_proxy: Args.string({ description: 'where the REGISTER goes, e.g. sip:carrier.example:5060', required: true }),
  };
  static flags = {
    ...rpcFlags,
    'password-stdin': Flags.boolean({ description: 'read the auth password from standard input (else: asked on a terminal)' }),
    realm: Flags.string({ description: 'digest realm (default: the remote domain)' }),
    'auth-username': Flags.string({ description: 'digest user name (default: the remote user)' }),
    expires: Flags.string({ description: 'registration lifetime in seconds (default 3600)' }),
    flags: Flags.string({ description: 'uacreg flags (integer, default 0; 1 = disabled)' }),
    'reg-delay': Flags.string({ description: 'seconds to wait before the first REGISTER (default 0)' }),
    socket: Flags.string({ description: 'local socket to send from, e.g. udp:192.0.2.1:5060' }),
    'contact-addr': Flags.string({ description: 'host:port for the Contact (default: the module\'s reg_contact_addr)' }),
    refresh: Flags.boolean({ description: 'then make the proxies load and register it (uac.reg_refresh)' }),
    'dry-run': dryRunFlag,
  };

  async run() {
    const f = this.flags;
    let password: string;
    if (f['password-stdin']) {
      const { readStdinValue } = await import('../../cli/prompt.js');
      password = await readStdinValue();
      if (password === '') throw new UsageError('EMPTY_PASSWORD', 'no password on standard input');
    } else {
      const { promptSecret } = await import('../../cli/prompt.js');
      password = await promptSecret('Auth password:', '--password-stdin', true);
    }
    const db = await this.openDb();
    const change = await addUacreg(db, {
      lUuid: this.args.l_uuid, local: this.args.local, remote: this.args.remote, authProxy: this.args.auth_proxy, password,
      realm: f.realm, authUsername: f['auth-username'], expires: f.expires, flags: f.flags, regDelay: f['reg-delay'], socket: f.socket, contactAddr: f['contact-addr'],
    }, { dryRun: f['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would add' : 'added'} uacreg ${e.lUuid}: ${e.rUsername}@${e.rDomain} via ${e.authProxy} for ${e.lUsername}@${e.lDomain}`);
    if (!f.refresh || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy registers it after `sipctl uacreg refresh ' + e.lUuid + '` (or use --refresh)');
      return change;
    }
    const refresh = await uacregRefresh(this.opContext(), e.lUuid);
    const json = { ...change, refresh: resultJson(refresh) };
    await this.finish(refresh, { json: () => json });
    return json;
  }
}
