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
  /** a heartbeat within the last 6 s */
  alive: boolean;
  listen: string[];
  pid: number;
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
      listen: Array.isArray(n.listen) ? n.listen.map(String) : [],
      pid: Number(n.pid ?? 0),
    };
  });
  return { clustered: r?.enabled === true, up: r?.up === true, self: String(r?.node ?? ''), members };
}
