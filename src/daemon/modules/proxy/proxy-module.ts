/**
 * The proxy module: sipd as a transaction-stateful SIP proxy (Kamailio's tm + rr + the call
 * handling of its routing script; the logic is in proxy-core.ts, the transactions in
 * ../../transaction/). The kernel's pipeline hands it every request it does not keep for itself
 * (REGISTER and keepalive OPTIONS) and every response.
 *
 * RPC: tm.stats (Kamailio's names where they exist) and proxy.stats (sipd's counters).
 */
import net from 'node:net';
import { ConfigError } from '../../../core/errors.js';
import type { SipRequest, SipResponse } from '../../../core/sip/message.js';
import type { CoreApi, Endpoint, RequestContext } from '../../kernel/contracts.js';
import { defineModule, type ParamValues } from '../../kernel/module.js';
import { TransactionLayer } from '../../transaction/transaction-layer.js';
import type { TimerHost } from '../../transaction/timers.js';
import type { Inbound } from '../../transport/transport.js';
import type { UacApi } from '../dialog/dialog-module.js';
import { Proxy, type KernelReply, type ProxySettings } from './proxy-core.js';
import { SipSender } from './sender.js';

/** What the pipeline calls. */
export interface ProxyApi extends UacApi {
  /** a request; false when the kernel keeps it (REGISTER, OPTIONS to the proxy itself) */
  request(ctx: RequestContext, m: Inbound, kernel: KernelReply): boolean;
  /** a response: to its client transaction, or dropped */
  response(m: Inbound, res: SipResponse): void;
  /**
   * sipd --cluster: `msg` (from a cluster member's address) proves it comes from a node: a
   * hand-off this node verifies (signature, age, sender), or a request of a dialog or transaction
   * this node holds. Pike does not count such requests.
   */
  fromNode(msg: SipRequest): boolean;
}

const params = {
  carrier_group: { type: 'integer', default: 200, min: 0, max: 4_294_967_295, doc: 'address group (permissions) of the carriers: INVITEs from their addresses need no digest auth' },
  carrier_host: { type: 'string', default: '', doc: 'outbound trunk: IP address (or host name) calls of local users go to when the callee is not registered here; empty = none' },
  carrier_port: { type: 'integer', default: 5060, min: 1, max: 65_535, doc: 'outbound trunk port' },
  carrier_transport: { type: 'string', default: 'udp', choices: ['udp', 'tcp', 'tls'], doc: 'outbound trunk transport (tcp/tls need a connection the carrier opened)' },
  carrier_numbers: { type: 'string', default: '^(\\+|00)[1-9][0-9]{3,20}$', doc: 'regular expression: dialled numbers (visual separators removed) that go to the trunk when not registered here (Kamailio\'s stock route[PSTN] pattern); other unregistered names get 404' },
  // Off by default: the security playbook allows calls only from registered users and carriers;
  // operators who federate with other domains turn it on.
  allow_guest_calls: { type: 'boolean', default: false, doc: 'callers that are neither authenticated subscribers nor carriers may call registered local users (never anything else); off by default, turn it on to federate with other domains' },
  record_route: { type: 'boolean', default: true, doc: 'Record-Route INVITEs so in-dialog requests come back through sipd (needed for BYE matching, limits and CDRs)' },
  fr_timer: { type: 'integer', default: 32_000, min: 1_000, max: 600_000, doc: 'ms a client transaction waits for a final response (Timer B/F; Kamailio fr_timer); then 408' },
  fr_inv_timer: { type: 'integer', default: 120_000, min: 1_000, max: 3_600_000, doc: 'ms an INVITE may ring: Timer C, from the first provisional response, restarted by each but 100 (Kamailio fr_inv_timer); then CANCEL to that branch, which counts as 408 (upstream when no other branch answers better)' },
  t1: { type: 'integer', default: 500, min: 50, max: 10_000, doc: 'ms, RFC 3261 T1 (retransmission base)' },
  t2: { type: 'integer', default: 4_000, min: 500, max: 60_000, doc: 'ms, RFC 3261 T2 (longest retransmission interval)' },
  max_transactions: { type: 'integer', default: 100_000, min: 10, max: 10_000_000, doc: 'server transactions at once; beyond that new requests get 503' },
  max_branches: { type: 'integer', default: 12, min: 1, max: 64, doc: 'most contacts one request is forked to at once (Kamailio tm max_branches); a registered user\'s contacts beyond it, in lookup order (highest q, then the oldest), are not called' },
  max_stream_senders: { type: 'integer', default: 65_536, min: 16, max: 10_000_000, doc: 'TCP/TLS connections remembered for sending back to their peer (an entry leaves when its connection closes; beyond this the least recently used is forgotten)' },
} as const;

type Params = ParamValues<typeof params>;

function settingsOf(p: Params): ProxySettings {
  if (p.carrier_host !== '' && net.isIP(p.carrier_host) === 0 && !/^[A-Za-z0-9.-]{1,253}$/.test(p.carrier_host)) {
    throw new ConfigError('MODULE_PARAM_INVALID', 'proxy.carrier_host: an IP address or a host name');
  }
  let carrierNumbers: RegExp;
  try {
    carrierNumbers = new RegExp(p.carrier_numbers);
  } catch (e) {
    throw new ConfigError('MODULE_PARAM_INVALID', `proxy.carrier_numbers: not a regular expression (${(e as Error).message})`);
  }
  return {
    carrierNumbers,
    carrierGroup: p.carrier_group,
    carrier: { host: p.carrier_host, port: p.carrier_port, transport: p.carrier_transport as 'udp' | 'tcp' | 'tls' },
    recordRoute: p.record_route,
    frInvTimer: p.fr_inv_timer,
    allowGuests: p.allow_guest_calls,
    maxTransactions: p.max_transactions,
    maxBranches: p.max_branches,
  };
}

export interface ProxyModuleOptions {
  /** timers for tests */
  timers?: TimerHost;
}

export function createProxyModule(opts: ProxyModuleOptions = {}) {
  let proxy: Proxy | undefined;
  let layer: TransactionLayer | undefined;

  const api: ProxyApi = {
    request: (ctx, m, kernel) => (proxy === undefined ? false : proxy.request(ctx, m, kernel)),
    response: (m, res) => proxy?.response(m, res),
    fromNode: (msg) => proxy?.fromNode(msg) ?? false,
    originate: (dest: Endpoint, build, prefer) => (proxy === undefined ? Promise.resolve(503) : proxy.originate(dest, build, prefer)),
    destinationOf: (uri) => proxy?.destinationOf(uri),
  };

  return defineModule({
    name: 'proxy',
    params,
    init(ctx) {
      const p = ctx.params;
      const settings = settingsOf(p);
      layer = new TransactionLayer({ ...(opts.timers !== undefined ? { timers: opts.timers } : {}), settings: { T1: p.t1, T2: p.t2, frTimer: p.fr_timer } });
      const core = ctx.api<CoreApi>('core');
      // UDP sockets from the kernel (bound after init, so read when sending)
      const sender = new SipSender(() => core?.sipSockets() ?? [], p.max_stream_senders);
      // Sizes of what grows with traffic, next to the kernel's in stats.get_statistics sipd: (issue 18).
      const stats = ctx.api<{ gauge?(name: string, read: () => number): void }>('stats');
      if (stats !== undefined && typeof stats.gauge === 'function') {
        stats.gauge('sipd:stream_senders', () => sender.streamCount());
        stats.gauge('sipd:server_transactions', () => layer?.counts().server ?? 0);
        stats.gauge('sipd:client_transactions', () => layer?.counts().client ?? 0);
        stats.gauge('sipd:proxy_calls', () => (proxy?.stats() as { calls?: number } | undefined)?.calls ?? 0);
      }
      proxy = new Proxy(
        {
          layer,
          sender,
          log: ctx.log,
          now: ctx.now,
          api: <T>(name: string) => ctx.api<T>(name),
          isMyself: (h, port) => core?.isMyself(h, port) ?? false,
        },
        settings,
      );
      if (settings.carrier.host === '') ctx.log.info('proxy: no carrier trunk configured (proxy.carrier_host): calls to numbers not registered here get 404');
    },
    reload(ctx) {
      if (proxy !== undefined) proxy.settings = settingsOf(ctx.params);
    },
    destroy() {
      layer?.clear();
      proxy = undefined;
      layer = undefined;
    },
    rpc: {
      'tm.stats': {
        doc: 'Print transaction statistics',
        handler: () => {
          const s = proxy?.stats() ?? {};
          return {
            current: (s.server_transactions ?? 0) + (s.client_transactions ?? 0),
            waiting: 0,
            total: s.relayed ?? 0,
            total_local: s.local_replies ?? 0,
            rpl_received: s.rpl_received ?? 0,
            rpl_generated: s.local_replies ?? 0,
            rpl_sent: (s.rpl_relayed ?? 0) + (s.local_replies ?? 0),
            // transactions by the class of their final reply, then created / freed, in Kamailio 5.6's order
            '6xx': s.final_6xx ?? 0,
            '5xx': s.final_5xx ?? 0,
            '4xx': s.final_4xx ?? 0,
            '3xx': s.final_3xx ?? 0,
            '2xx': s.final_2xx ?? 0,
            created: s.relayed ?? 0,
            freed: Math.max(0, (s.relayed ?? 0) - (s.server_transactions ?? 0)),
            delayed_free: 0,
          };
        },
      },
      'proxy.stats': {
        doc: 'sipd: relayed requests, retransmissions absorbed while their first copy was admitted, local replies, responses received / dropped / relayed, CANCELs, Timer C expiries, loops, refused relays, in-dialog requests without a dialog, open transactions',
        handler: () => proxy?.stats() ?? {},
      },
    },
    api,
  });
}
