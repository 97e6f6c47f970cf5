import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags } from '../../cli/rpc-support.js';
import { addTrusted, trustedReload } from '../../core/trusted/trusted.js';

export default class TrustedAdd extends RpcCommand<typeof TrustedAdd> {
  static summary = 'Trust a peer: add an entry to the permissions trusted table.';
  static description = `Requests from SRC_IP over PROTO (any, udp, tcp, tls, sctp, ws, wss, none; default any) whose From URI matches FROM_PATTERN (optional) pass allow_trusted() without authentication; TAG is what the module puts into peer_tag_avp. Patterns are POSIX extended regular expressions (Kamailio compiles them with regcomp): Perl-only syntax such as \\d, lookaround or lazy quantifiers is refused, since it would never match there. The same IP, transport and patterns twice is a conflict (exit 4).

The running proxy sees the change after a reload: add --reload to do both in one step (permissions.trustedReload, on every node; Kamailio's "ongoing reload" refusal is waited out).`;
  static examples = [
    '<%= config.bin %> trusted add 192.0.2.20 udp "^sip:.*@carrier\\.example$" carrier-a --reload',
    '<%= config.bin %> trusted add 2001:db8::20 any --priority 10',
    '<%= config.bin %> trusted add 198.51.100.7 tls --ruri-pattern "^sip:\\+49" --dry-run',
  ];
  static args = {
    src_ip: Args.string({ description: 'source IPv4 or IPv6 address', required: true }),
    proto: Args.string({ description: 'transport: any, udp, tcp, tls, sctp, ws, wss, none (default any)' }),
    from_pattern: Args.string({ description: 'POSIX extended regular expression for the From URI (at most 64 characters)' }),
    tag: Args.string({ description: 'free text tag (at most 64 characters)' }),
  };
  static flags = {
    ...rpcFlags,
    priority: Flags.string({ description: 'entries with a higher priority are checked first (default 0)' }),
    'ruri-pattern': Flags.string({ description: 'POSIX extended regular expression for the Request-URI' }),
    reload: Flags.boolean({ description: 'then reload the trusted table on the proxies (permissions.trustedReload)' }),
    'dry-run': dryRunFlag,
  };

  async run() {
    const db = await this.openDb();
    const { src_ip: srcIp, proto, from_pattern: fromPattern, tag } = this.args;
    const change = await addTrusted(db, { srcIp, proto, fromPattern, tag, priority: this.flags.priority, ruriPattern: this.flags['ruri-pattern'] }, { dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would trust' : 'trusted'} ${e.srcIp} (${e.proto})${e.fromPattern ? ` From ~ ${e.fromPattern}` : ''}${e.ruriPattern ? ` R-URI ~ ${e.ruriPattern}` : ''}${e.tag ? ` tag ${e.tag}` : ''}`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy loads it on `sipctl trusted reload` (or use --reload)');
      return change;
    }
    const reload = await trustedReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
