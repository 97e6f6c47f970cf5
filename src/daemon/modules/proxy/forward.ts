/**
 * Building what a proxy sends on (RFC 3261 §16.6, §16.7): its own Via on top, Record-Route,
 * the Request-URI and Route set changed, credentials it consumed removed; and, for a response,
 * its own Via taken off again. Header fields are copied as received except for those changes;
 * Content-Length is recomputed by the serializer.
 */
import net from 'node:net';
import type { HeaderField, SipRequest, SipResponse } from '../../../core/sip/message.js';
import { parseVia } from '../../../core/sip/headers.js';
import { formatVia, serializeMessage } from '../../../core/sip/serializer.js';
import { formatUri, type Uri } from '../../../core/sip/uri.js';
import type { Endpoint } from '../../kernel/contracts.js';
import { splitList } from './header-values.js';

export function hostPort(e: Endpoint): string {
  return `${net.isIPv6(e.ip) ? `[${e.ip}]` : e.ip}:${e.port}`;
}

/** Our Via value for a message leaving from `local`. */
export function viaValue(local: Endpoint, branch: string): string {
  return `SIP/2.0/${local.transport.toUpperCase()} ${hostPort(local)};branch=${branch}`;
}

/** A Record-Route value naming `local` (loose routing; transport unless UDP; r2=on when doubled). */
export function recordRouteValue(local: Endpoint, r2: boolean): string {
  const t = local.transport === 'udp' ? '' : `;transport=${local.transport}`;
  return `<sip:${hostPort(local)}${t};lr${r2 ? ';r2=on' : ''}>`;
}

/** Every Route value, in order, over all Route fields. */
export function routeValues(msg: { headers: readonly HeaderField[] }): string[] {
  const out: string[] = [];
  for (const f of msg.headers) if (f.key === 'route') for (const v of splitList(f.value)) out.push(v);
  return out;
}

export interface ForwardOptions {
  uri: Uri;
  via: string;
  /** Record-Route values to add above the existing ones (top first) */
  recordRoute?: string[];
  /** the Route values to send (replacing every Route field); undefined keeps them as they are */
  routes?: string[];
  /** remove Proxy-Authorization (credentials sipd consumed) */
  dropProxyAuthorization?: boolean;
  /** header fields to add at the end */
  add?: Array<[string, string]>;
  /** header fields (lower-case names) to remove */
  drop?: readonly string[];
}

/** The request as it goes out (a new message object; `msg` is not changed). */
export function forwardRequest(msg: SipRequest, o: ForwardOptions): SipRequest {
  const headers: HeaderField[] = [];
  let viaDone = false;
  let rrDone = o.recordRoute === undefined || o.recordRoute.length === 0;
  let routesDone = o.routes === undefined;
  const rr = (o.recordRoute ?? []).map((v): HeaderField => ({ name: 'Record-Route', key: 'record-route', value: v }));
  const ourVia: HeaderField = { name: 'Via', key: 'via', value: o.via };
  for (const f of msg.headers) {
    if (!viaDone && f.key === 'via') {
      headers.push(ourVia);
      viaDone = true;
    }
    if (f.key === 'route' && o.routes !== undefined) {
      if (!routesDone) {
        for (const r of o.routes) headers.push({ name: 'Route', key: 'route', value: r });
        routesDone = true;
      }
      continue;
    }
    if (f.key === 'record-route' && !rrDone) {
      headers.push(...rr);
      rrDone = true;
    }
    if (f.key === 'proxy-authorization' && o.dropProxyAuthorization) continue;
    if (o.drop !== undefined && o.drop.includes(f.key)) continue;
    headers.push(f);
  }
  if (!viaDone) headers.unshift(ourVia);
  if (!rrDone) {
    // after the Via block
    let i = 0;
    while (i < headers.length && headers[i].key === 'via') i++;
    headers.splice(i, 0, ...rr);
  }
  if (!routesDone && o.routes !== undefined && o.routes.length > 0) {
    let i = 0;
    while (i < headers.length && (headers[i].key === 'via' || headers[i].key === 'record-route')) i++;
    headers.splice(i, 0, ...o.routes.map((r): HeaderField => ({ name: 'Route', key: 'route', value: r })));
  }
  for (const [name, value] of o.add ?? []) headers.push({ name, key: name.toLowerCase(), value });
  return { ...msg, uri: o.uri, rawUri: formatUri(o.uri), headers, via: [parseVia(o.via)[0], ...msg.via] };
}

export function serialize(msg: SipRequest | SipResponse): Buffer {
  return serializeMessage(msg);
}

/**
 * The Via fields a response sent upstream carries: those of the request as it reached sipd, the
 * top one with `received` / `rport` as sipd saw its source (§18.2.1, RFC 3581). They are taken
 * from the request the server transaction holds, not from what the downstream copied into its
 * response: our own Via is gone either way, and a UAS that mangled the rest cannot misroute it.
 */
export function upstreamVias(req: SipRequest, source: Endpoint): HeaderField[] {
  if (req.via.length === 0) return [];
  const [top, ...rest] = req.via;
  const params = new Map(top.params);
  if (top.rport !== undefined) params.set('rport', String(source.port));
  if (top.host !== source.ip || top.rport !== undefined) params.set('received', source.ip);
  return [{ ...top, params }, ...rest].map((v): HeaderField => ({ name: 'Via', key: 'via', value: formatVia(v) }));
}

/** The response as bytes to send upstream: its Via fields replaced by `vias` (see upstreamVias). */
export function responseUpstream(res: SipResponse, vias: HeaderField[]): Buffer {
  const headers: HeaderField[] = [];
  let done = false;
  for (const f of res.headers) {
    if (f.key === 'via') {
      if (!done) headers.push(...vias);
      done = true;
      continue;
    }
    headers.push(f);
  }
  if (!done) headers.unshift(...vias);
  return serializeMessage({ ...res, headers });
}
