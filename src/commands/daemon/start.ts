import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { defaultStateDir, startDaemon } from '../../core/daemon/daemon-control.js';

export default class DaemonStart extends BaseCommand<typeof DaemonStart> {
  static summary = 'Start sipd, the bundled SIP proxy, in the background.';
  static description = `Runs bin/sipd.js detached, with its output (JSON lines) in <state-dir>/sipd.log, and waits until it answers JSON-RPC core.uptime. When the default ports are taken (SIP 5060, RPC 5071 on 127.0.0.1) and no address was configured, free ones are picked and named.

sipd reads the same database settings as sipctl (--db, SIPCTL_DB, the config file).`;
  static examples = [
    '<%= config.bin %> daemon start',
    '<%= config.bin %> daemon start --sipd-config /etc/sipd/sipd.json --state-dir /var/lib/sipd',
    '<%= config.bin %> daemon start --listen udp:127.0.0.1:5060 --listen tcp:[::1]:5060 --rpc-listen http://127.0.0.1:5071/RPC',
  ];
  static flags = {
    'state-dir': Flags.string({ description: 'sipd state directory (default $XDG_STATE_HOME/sipd or ~/.local/state/sipd)', env: 'SIPD_STATE_DIR' }),
    'sipd-config': Flags.string({ description: "sipd's configuration file (JSON)", env: 'SIPD_CONFIG' }),
    listen: Flags.string({ description: 'SIP socket, repeatable: udp:IP:PORT, tcp:IP:PORT (IPv6 in brackets)', multiple: true }),
    'rpc-listen': Flags.string({ description: 'JSON-RPC endpoint, repeatable: http://IP:PORT/PATH, unix:/path', multiple: true }),
    domain: Flags.string({ description: 'SIP domain the proxy is, repeatable', multiple: true }),
    timeout: Flags.integer({ description: 'seconds to wait for sipd to answer', default: 15, min: 1, max: 600 }),
  };

  async run() {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // sipctl's own settings travel to sipd through its environment.
    if (this.flags.config) env.SIPCTL_CONFIG = this.flags.config;
    if (this.flags.kamctlrc) env.SIPCTL_KAMCTLRC = this.flags.kamctlrc;
    const r = await startDaemon({
      stateDir: this.flags['state-dir'] ?? defaultStateDir(),
      sipdConfig: this.flags['sipd-config'],
      db: this.flags.db,
      listen: this.flags.listen,
      rpcListen: this.flags['rpc-listen'],
      domain: this.flags.domain,
      env,
      timeoutMs: this.flags.timeout * 1000,
    });
    for (const n of r.notes) this.note(n);
    this.print(`sipd ${r.version} started (pid ${r.pid})\nsip\t${r.listen.join(' ')}\nrpc\t${r.rpc.join(' ')}\nlog\t${r.logFile}`);
    return r;
  }
}
