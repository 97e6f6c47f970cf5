/**
 * The registrar module: Kamailio's registrar parameters (default/min/max expires, max_contacts,
 * received_param, use_path) over the Registrar logic, storing through the usrloc module's API.
 * It has no RPC methods of its own (ul.* belong to usrloc, as in Kamailio).
 */
import { ConfigError } from '../../../core/errors.js';
import type { RegistrarApi, ReplySpec, StatsApi } from '../../kernel/contracts.js';
import { defineModule } from '../../kernel/module.js';
import type { UsrlocModuleApi } from '../usrloc/usrloc-module.js';
import { Registrar } from './registrar.js';

const params = {
  default_expires: { type: 'integer', default: 3600, min: 1, max: 2 ** 31 - 1, doc: 'seconds granted when neither the contact nor the request gives an expiry' },
  min_expires: { type: 'integer', default: 60, min: 0, max: 2 ** 31 - 1, doc: 'shortest registration granted (see min_expires_mode)' },
  max_expires: { type: 'integer', default: 3600, min: 0, max: 2 ** 31 - 1, doc: 'longest registration granted; longer requests are cut to this; 0 = no limit' },
  min_expires_mode: { type: 'integer', default: 0, min: 0, max: 1, doc: '0 = raise a shorter expiry to min_expires; 1 = answer 423 Interval Too Brief with Min-Expires' },
  max_contacts: { type: 'integer', default: 10, min: 0, max: 10_000, doc: 'most bindings per AoR; more gets 503 (P-Registrar-Error: Too many registered contacts); 0 = unlimited' },
  cseq_delay: { type: 'integer', default: 20, min: 0, max: 3600, doc: 'seconds in which the same Call-ID and CSeq is a retransmission (200) rather than a replay (400)' },
  received_param: { type: 'string', default: 'received', doc: 'contact parameter that carries the received address in the 200 OK; empty = not shown' },
  use_path: { type: 'boolean', default: false, doc: 'store the Path header with the binding (RFC 3327)' },
} as const;

export function createRegistrarModule() {
  let registrar: Registrar | undefined;
  let stats: StatsApi | undefined;

  const api: RegistrarApi = {
    async save(ctx, username, domain): Promise<ReplySpec> {
      if (registrar === undefined) throw new ConfigError('REGISTRAR_NOT_READY', 'registrar is not initialised');
      const reply = await registrar.save(ctx, username, domain);
      stats?.inc(reply.status === 200 ? 'registrar:accepted_regs' : 'registrar:rejected_regs');
      return reply;
    },
  };

  return defineModule({
    name: 'registrar',
    params,
    init(ctx) {
      const ul = ctx.api<UsrlocModuleApi>('usrloc');
      if (ul === undefined || typeof ul.commit !== 'function') {
        throw new ConfigError('MODULE_DEPENDENCY', 'registrar needs the usrloc module', 'load usrloc before registrar');
      }
      const p = ctx.params;
      if (p.max_expires > 0 && p.min_expires > p.max_expires) {
        throw new ConfigError('MODULE_PARAM_INVALID', 'registrar.min_expires is above max_expires');
      }
      if (p.received_param !== '' && !/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/.test(p.received_param)) {
        throw new ConfigError('MODULE_PARAM_INVALID', 'registrar.received_param must be a parameter name');
      }
      stats = ctx.api<StatsApi>('stats');
      registrar = new Registrar(
        ul,
        {
          defaultExpires: p.default_expires,
          minExpires: p.min_expires,
          maxExpires: p.max_expires,
          minExpiresMode: p.min_expires_mode,
          maxContacts: p.max_contacts,
          cseqDelay: p.cseq_delay,
          receivedParam: p.received_param,
          usePath: p.use_path,
        },
        () => Math.floor(ctx.now() / 1000),
        ctx.log,
      );
    },
    destroy() {
      registrar = undefined;
      stats = undefined;
    },
    rpc: {},
    api,
  });
}
