/**
 * The maxfwd module (Kamailio's mf_process_maxfwd_header, RFC 3261 §16.3 item 2 and §16.6
 * item 3): a request with Max-Forwards 0 is answered 483 Too Many Hops; otherwise the value is
 * decremented (first lowered to `max_limit` if above it); a request without the header gets one
 * with `default_value`. The header is rewritten in `msg.headers` (what a relay would send on)
 * and `msg.maxForwards` follows it.
 */
import type { SipRequest } from '../../../core/sip/message.js';
import type { StageResult } from '../../kernel/contracts.js';
import { type ParamValues, defineModule } from '../../kernel/module.js';

export interface MaxfwdApi {
  /** `continue` (header decremented or added) or `reply` 483 */
  process(msg: SipRequest): StageResult;
}

const params = {
  default_value: { type: 'integer', default: 70, min: 1, max: 255, doc: 'Max-Forwards given to a request that has none (RFC 3261 §8.1.1.6 recommends 70)' },
  max_limit: { type: 'integer', default: 70, min: 1, max: 255, doc: 'a larger incoming value is lowered to this before it is decremented' },
} as const;

export interface MaxfwdSettings {
  defaultValue: number;
  maxLimit: number;
}

/** The stage itself, as a pure function of the message and the settings. */
export function processMaxForwards(msg: SipRequest, s: MaxfwdSettings): StageResult {
  const mf = msg.maxForwards;
  if (mf === undefined) {
    msg.headers.push({ name: 'Max-Forwards', key: 'max-forwards', value: String(s.defaultValue) });
    msg.maxForwards = s.defaultValue;
    return { action: 'continue' };
  }
  if (mf === 0) return { action: 'reply', reply: { status: 483, reason: 'Too Many Hops' } };
  const next = Math.min(mf, s.maxLimit) - 1;
  const i = msg.headers.findIndex((h) => h.key === 'max-forwards');
  if (i !== -1) msg.headers[i] = { ...msg.headers[i], value: String(next) };
  msg.maxForwards = next;
  return { action: 'continue' };
}

export function createMaxfwdModule() {
  let settings: MaxfwdSettings = { defaultValue: params.default_value.default, maxLimit: params.max_limit.default };
  let tooManyHops = 0;
  const configure = (c: { params: ParamValues<typeof params> }) => {
    settings = { defaultValue: c.params.default_value, maxLimit: c.params.max_limit };
  };
  const api: MaxfwdApi = {
    process(msg) {
      const r = processMaxForwards(msg, settings);
      if (r.action === 'reply') tooManyHops++;
      return r;
    },
  };
  return defineModule({
    name: 'maxfwd',
    params,
    init: configure,
    reload: configure,
    destroy() {},
    rpc: {
      'maxfwd.stats': { doc: 'sipd: requests answered 483 Too Many Hops since start', handler: () => ({ too_many_hops: tooManyHops }) },
    },
    api,
  });
}
