import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderRecord } from '../../cli/output.js';
import { daemonStatus, defaultStateDir } from '../../core/daemon/daemon-control.js';

export default class DaemonStatus extends BaseCommand<typeof DaemonStatus> {
  static summary = 'Show whether sipd runs: pid, SIP sockets, RPC endpoints, uptime.';
  static description = 'Asks the running sipd for core.uptime over its RPC socket. Exits 3 when no sipd runs for the state directory.';
  static examples = ['<%= config.bin %> daemon status', '<%= config.bin %> daemon status --json'];
  static flags = {
    'state-dir': Flags.string({ description: 'sipd state directory (default $XDG_STATE_HOME/sipd or ~/.local/state/sipd)', env: 'SIPD_STATE_DIR' }),
  };

  async run() {
    const s = await daemonStatus({ stateDir: this.flags['state-dir'] ?? defaultStateDir() });
    this.print(
      await renderRecord(
        [
          ['status', 'running'],
          ['pid', s.pid],
          ['version', s.version],
          ['sip', s.listen.join(' ')],
          ['rpc', s.rpc.join(' ')],
          ['uptime', `${s.uptime} s`],
          ['up since', s.upSince],
          ['state dir', s.stateDir],
          ['log', s.logFile],
        ],
        this.out,
      ),
    );
    return s;
  }
}
