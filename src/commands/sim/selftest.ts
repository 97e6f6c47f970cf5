import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { SipctlError } from '../../core/errors.js';
import { runSelftest } from '../../core/sim/selftest.js';

export default class SimSelftest extends BaseCommand<typeof SimSelftest> {
  static summary = 'Run the bundled 3GPP Milenage test sets through this build and report pass/fail.';
  static description = 'All 20 TS 35.208 test sets and TS 35.207 set 2: OPc, f1, f1*, f2, f3, f4, f5, f5*, AUTN and the AUTS resynchronisation round trip. Exits 1 if any set fails. No database is used.';
  static examples = ['<%= config.bin %> sim selftest', '<%= config.bin %> sim selftest --json'];

  async run() {
    const result = runSelftest();
    this.print(await renderTable(result.sets, [
      { header: 'SET', get: (s) => s.id },
      { header: 'RESULT', get: (s) => (s.ok ? 'pass' : `FAIL (${s.failed.join(', ')})`) },
    ], this.out));
    this.print(`${result.passed} of ${result.sets.length} test sets passed`);
    if (!result.ok) {
      if (this.jsonEnabled()) this.logJson(result);
      throw new SipctlError('SELFTEST_FAILED', `${result.failed} of ${result.sets.length} Milenage test sets failed`, { category: 'internal', hint: 'this build computes wrong results: do not use it for SIM keys' });
    }
    return result;
  }
}
