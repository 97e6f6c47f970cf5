import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { defaultStateDir, stopDaemon } from '../../core/daemon/daemon-control.js';

export default class DaemonStop extends BaseCommand<typeof DaemonStop> {
  static summary = 'Stop the background sipd (SIGTERM: it stops taking requests, saves state and exits).';
  static description = 'Exits 3 when no sipd runs for the state directory.';
  static examples = ['<%= config.bin %> daemon stop', '<%= config.bin %> daemon stop --timeout 30 --force'];
  static flags = {
    'state-dir': Flags.string({ description: 'sipd state directory (default $XDG_STATE_HOME/sipd or ~/.local/state/sipd)', env: 'SIPD_STATE_DIR' }),
    timeout: Flags.integer({ description: 'seconds to wait for sipd to exit', default: 15, min: 1, max: 600 }),
    force: Flags.boolean({ description: 'send SIGKILL when it has not exited after --timeout (state saved periodically survives)' }),
  };

  async run() {
    const r = await stopDaemon({ stateDir: this.flags['state-dir'] ?? defaultStateDir(), timeoutMs: this.flags.timeout * 1000, force: this.flags.force });
    this.print(`sipd (pid ${r.pid}) stopped${r.signal === 'SIGKILL' ? ' with SIGKILL' : ''}`);
    return r;
  }
}
