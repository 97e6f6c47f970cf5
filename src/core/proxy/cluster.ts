/**
 * The members of a sipd cluster (sipd --cluster), as one node sees them in Redis: RPC
 * cluster.nodes. A proxy that is no cluster member (sipd without --cluster) answers with
 * `clustered: false` and no members; Kamailio has no such method (RPC_NOT_FOUND, exit 6).
 */
import type { RpcClient } from '../rpc/client.js';

export interface ClusterMember {
  node: string;
  /** ISO time of its last heartbeat (every 2 s) */
  lastSeen: string;
  ageSec: number;
  /** a heartbeat within the last 6 s, and not stopped since */
  alive: boolean;
  /** it shut down cleanly (lastSeen: when); a member not alive and not stopped went silent (killed, hung, cut off from Redis) */
  stopped: boolean;
  /** the location table's server_id its rows carry (0: not told, an older sipd) */
  serverId: number;
  listen: string[];
  pid: number;
}

/** alive, stopped (shut down cleanly) or silent (no heartbeat for 6 s: killed, hung, or cut off from Redis) */
export function memberState(m: Pick<ClusterMember, 'alive' | 'stopped'>): 'alive' | 'stopped' | 'silent' {
  return m.alive ? 'alive' : m.stopped ? 'stopped' : 'silent';
}

export interface ClusterView {
  /** this proxy is a cluster member (cluster.url set) */
  clustered: boolean;
  /** it reaches Redis now */
  up: boolean;
  /** the node that answered */
  self: string;
  members: ClusterMember[];
}

export async function clusterNodes(c: RpcClient): Promise<ClusterView> {
  const r = (await c.call('cluster.nodes')) as { enabled?: boolean; up?: boolean; node?: string; nodes?: unknown[] } | undefined;
  const members = (Array.isArray(r?.nodes) ? r!.nodes : []).map((x) => {
    const n = x as Record<string, unknown>;
    return {
      node: String(n.node ?? ''),
      lastSeen: String(n.lastSeen ?? ''),
      ageSec: Number(n.ageSec ?? 0),
      alive: n.alive === true,
      stopped: n.stopped === true,
      serverId: Number(n.serverId ?? 0) || 0,
      listen: Array.isArray(n.listen) ? n.listen.map(String) : [],
      pid: Number(n.pid ?? 0),
    };
  });
  return { clustered: r?.enabled === true, up: r?.up === true, self: String(r?.node ?? ''), members };
}
