import { Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { domainFlag } from '../cli/subscriber-support.js';

export default class Web extends RpcCommand<typeof Web> {
  static summary = 'Serve the web console: the dynamic tables and the live state of the proxies in a browser.';
  static description = `Serves the console from this installation (dist/web, no CDN) until SIGINT or SIGTERM, and prints its URL. Every page calls the same library functions as the matching command, with the same validation and errors, and shows the equivalent sipctl command line for each change.

Accounts: made with \`sipctl web user add NAME --role viewer|operator\` (scrypt hashes in web-users.json, mode 0600, in the sipctl config directory); viewers read, operators change. Sessions are HttpOnly SameSite=Strict cookies (Secure under TLS) that end after --idle-minutes without a request; every change needs the session's CSRF token; logins are locked out like sipd's digest lockout: --max-failures wrong passwords for one name from one address, or --spray-max-failures for any names from one address, lock logins from there for --failure-window seconds (429).

Listens on 127.0.0.1:8088 unless --listen says otherwise; an address beyond loopback needs --tls-cert and --tls-key. The database and proxies are those of the other commands (--db, --rpc, --node, the config file). --json prints {"url"} once listening, then serves.`;
  static examples = [
    '<%= config.bin %> web   # needs: an account (sipctl web user add); serves until Ctrl-C',
    '<%= config.bin %> web --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem   # needs: the certificate files; serves until Ctrl-C',
  ];
  static flags = {
    ...rpcFlags,
    domain: domainFlag,
    listen: Flags.string({ description: 'HOST:PORT to listen on (beyond loopback only with --tls-cert/--tls-key)', default: '127.0.0.1:8088', env: 'SIPCTL_WEB_LISTEN' }),
    'tls-cert': Flags.string({ description: 'PEM certificate (chain) for HTTPS', dependsOn: ['tls-key'] }),
    'tls-key': Flags.string({ description: 'PEM private key for HTTPS (keep it mode 0600)', dependsOn: ['tls-cert'] }),
    'idle-minutes': Flags.integer({ description: 'minutes without a request after which a login session ends', default: 30, min: 1, max: 1440 }),
    'max-failures': Flags.integer({ description: 'failed logins of one name from one address before its logins are locked (0 = no limit)', default: 3, min: 0, max: 1000 }),
    'spray-max-failures': Flags.integer({ description: 'failed logins of any names from one address before all its logins are locked (0 = no limit)', default: 10, min: 0, max: 100_000 }),
    'failure-window': Flags.integer({ description: 'seconds after the last failure that a lockout lasts', default: 900, min: 1, max: 86_400 }),
    'users-file': Flags.string({ description: 'accounts file (default: web-users.json in the sipctl config directory)', env: 'SIPCTL_WEB_USERS_FILE' }),
  };

  protected override configOverrides() {
    return { ...super.configOverrides(), domain: this.flags.domain };
  }

  async run(): Promise<{ url: string }> {
    const { WebServer, parseListen, checkListen } = await import('../core/web/server.js');
    const { AccountStore, assertAccountsExist } = await import('../core/web/accounts.js');
    const f = this.flags;
    // Usage problems first (one line, exit 2), before anything is opened.
    checkListen(parseListen(f.listen), Boolean(f['tls-cert'] && f['tls-key']));
    const accounts = AccountStore.forEnv(process.env, f['users-file']);
    assertAccountsExist(accounts);
    void this.cfg; // a bad config file fails now, not at the first request
    const server = new WebServer({
      session: this.session,
      accounts,
      listen: f.listen,
      tlsCert: f['tls-cert'],
      tlsKey: f['tls-key'],
      idleMs: f['idle-minutes'] * 60_000,
      lockout: { maxFailures: f['max-failures'], sprayMaxFailures: f['spray-max-failures'], failureWindowSec: f['failure-window'] },
      log: (line) => process.stderr.write(line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '?') + '\n'),
    });
    const url = await server.listen();
    if (this.jsonEnabled()) process.stdout.write(JSON.stringify({ url }) + '\n');
    else this.log(`sipctl web: serving ${url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    // --json: the document was printed once listening; nothing more on stdout
    return this.jsonEnabled() ? (undefined as unknown as { url: string }) : { url };
  }
}
