/**
 * The sanity module object: parameters as in Kamailio (`default_checks`, `proxy_require`), the
 * check function for other modules, and `sanity.stats` (sipd's own RPC method) counting what
 * was refused and why. Each call to createSanityModule makes a fresh instance with its own
 * counters (habit 8: no shared global state).
 */
import type { SipMessage } from '../../../core/sip/message.js';
import { defineModule } from '../../kernel/module.js';
import { ALL_CHECKS, KAMAILIO_STOCK_CHECKS, type SanityResult, checkSanity } from './sanity.js';

export interface SanityApi {
  /** Run `checks` (default: the module's default_checks) on a message. */
  check(msg: SipMessage, checks?: number): SanityResult;
}

const params = {
  default_checks: { type: 'integer', default: KAMAILIO_STOCK_CHECKS, min: 0, max: ALL_CHECKS, doc: 'checks run when none are given: OR of the SanityCheck bits (Kamailio values); default 17895, what Kamailio\'s stock kamailio.cfg passes to sanity_check()' },
  proxy_require: { type: 'string', default: '', doc: 'comma-separated option tags accepted in Proxy-Require' },
  max_ruri_length: { type: 'integer', default: 512, min: 0, max: 65_535, doc: 'sipd: a longer Request-URI (bytes) gets 414 Request-URI Too Long; 0 = no limit' },
} as const;

export function createSanityModule() {
  let defaultChecks = KAMAILIO_STOCK_CHECKS;
  let proxyRequire: string[] = [];
  let maxRuriLength: number = params.max_ruri_length.default;
  let checked = 0;
  let failed = new Map<string, number>();

  const api: SanityApi = {
    check(msg, checks) {
      checked++;
      const r = checkSanity(msg, { checks: checks ?? defaultChecks, proxyRequire, maxRuriLength });
      if (!r.ok) failed.set(r.check, (failed.get(r.check) ?? 0) + 1);
      return r;
    },
  };

  return defineModule({
    name: 'sanity',
    params,
    init(ctx) {
      defaultChecks = ctx.params.default_checks;
      proxyRequire = ctx.params.proxy_require.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
      maxRuriLength = ctx.params.max_ruri_length;
    },
    destroy() {
      checked = 0;
      failed = new Map();
    },
    rpc: {
      'sanity.stats': {
        doc: 'Messages checked and failures per check since start',
        handler: () => ({ checked, failed: Object.fromEntries([...failed].sort()) }),
      },
    },
    api,
  });
}
