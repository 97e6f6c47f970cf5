/**
 * The identity module: the trust boundary for network-asserted identity (RFC 3325). Requests and
 * responses from sources outside the trusted address groups lose every P-Asserted-Identity,
 * P-Preferred-Identity and Remote-Party-ID header before sipd forwards them; when sipd relays an
 * authenticated subscriber's call to the carrier it asserts the identity it verified itself
 * (`assert_identity`). Kamailio does the same with remove_hf / append_hf in its routing script.
 */
import { ConfigError } from '../../../core/errors.js';
import type { HeaderField } from '../../../core/sip/message.js';
import type { PermissionsApi } from '../../kernel/contracts.js';
import { defineModule, type ParamValues } from '../../kernel/module.js';
import { IDENTITY_HEADERS, hasHeaders, identityKeys, stripHeaders } from './identity.js';

export interface IdentityApi {
  /** a source whose identity headers are kept (an address in one of the trusted groups) */
  trusted(ip: string, port?: number): boolean;
  /** remove the identity headers from `headers` unless the source is trusted; returns how many went */
  sanitize(headers: HeaderField[], source: { ip: string; port: number }): number;
  /** the P-Asserted-Identity value to add for an authenticated user towards a trusted peer, if enabled */
  assertion(user: string, domain: string): string | undefined;
}

const params = {
  trusted_groups: { type: 'string', default: '200', doc: 'comma-separated address groups whose identity headers are kept (the carriers); everything else is untrusted' },
  headers: { type: 'string', default: IDENTITY_HEADERS.join(','), doc: 'identity headers removed from untrusted sources (any spelling, every occurrence)' },
  assert_identity: { type: 'boolean', default: true, doc: 'add P-Asserted-Identity <sip:user@domain> to an authenticated subscriber\'s call sent to the carrier' },
} as const;

function groups(text: string): number[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    if (!/^\d{1,9}$/.test(s)) throw new ConfigError('MODULE_PARAM_INVALID', `identity.trusted_groups: ${JSON.stringify(s.slice(0, 16))} is not a group number`);
    return Number(s);
  });
}

export function createIdentityModule() {
  let keys = identityKeys(IDENTITY_HEADERS);
  let trustedGroups: number[] = [200];
  let assertIdentity = true;
  let perms: PermissionsApi | undefined;
  let stripped = 0;
  let getPerms: () => PermissionsApi | undefined = () => undefined;

  const configure = (p: ParamValues<typeof params>) => {
    const g = groups(p.trusted_groups);
    const k = identityKeys(p.headers.split(',').map((s) => s.trim()).filter(Boolean));
    trustedGroups = g;
    keys = k;
    assertIdentity = p.assert_identity;
  };

  const api: IdentityApi = {
    trusted(ip, port) {
      perms ??= getPerms();
      return perms !== undefined && trustedGroups.some((g) => perms!.allowSource(g, ip, port));
    },
    sanitize(headers, source) {
      // The trust lookup only when there is something to strip (most messages carry none).
      if (!hasHeaders(headers, keys) || api.trusted(source.ip, source.port)) return 0;
      const n = stripHeaders(headers, keys);
      stripped += n;
      return n;
    },
    assertion(user, domain) {
      return assertIdentity ? `<sip:${user}@${domain}>` : undefined;
    },
  };

  return defineModule({
    name: 'identity',
    params,
    init(ctx) {
      configure(ctx.params);
      getPerms = () => ctx.api<PermissionsApi>('permissions');
    },
    reload(ctx) {
      configure(ctx.params);
    },
    destroy() {
      perms = undefined;
    },
    rpc: {
      'identity.stats': {
        doc: 'sipd: identity headers removed from untrusted messages since start, and the trust settings',
        handler: () => ({ stripped, trusted_groups: trustedGroups, headers: [...keys].sort(), assert_identity: assertIdentity }),
      },
    },
    api,
  });
}
