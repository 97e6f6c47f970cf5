import { useEffect, useState } from 'preact/hooks';
import { del, seg } from '../api';
import { Chart } from '../components/chart';
import { done, failed } from '../components/status';
import { confirmed, DataTable } from '../components/table';
import { useListing } from '../components/use-listing';
import { text, type Row } from '../data';
import { liveState, refreshLive, repliesTotal, subscribe, type Ban, type NodeSnap } from '../live';

function replyClasses(v: NodeSnap['repliesPerSec']): string {
  if (!v || typeof v !== 'object') return '';
  return Object.entries(v)
    .filter(([, n]) => n)
    .map(([k, n]) => `${k} ${n}`)
    .join(' · ');
}

function uptime(s: number | null | undefined): string {
  if (typeof s !== 'number') return '–';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}

export function Dashboard({ canChange }: { canChange: boolean }) {
  const [, tick] = useState(0);
  useEffect(() => subscribe(() => tick((n) => n + 1)), []);
  const { snapshot, connected, history } = liveState();

  const bans = snapshot?.bans ?? []; // newest first, as the monitor first saw them
  const nodes = useListing('/api/nodes');

  async function unban(b: Ban) {
    if (!confirmed(`Lift the ban on ${b.key} (${b.table})?`)) return;
    try {
      const r = await del(`/api/bans/${seg(b.table)}/${seg(b.key)}`);
      done(`Unbanned ${b.key}`, r);
      refreshLive();
    } catch (e) {
      failed(e, `Unban ${b.key}`);
    }
  }

  return (
    <section aria-labelledby="h-dashboard">
      <h1 id="h-dashboard">Dashboard</h1>
      <p class="meta" data-testid="live-state">
        {connected ? 'Live' : 'Connecting…'}
        {snapshot ? ` · last update ${text(snapshot.time)}` : ''}
      </p>
      {!snapshot && <p>Waiting for the first sample…</p>}
      {snapshot?.nodes.map((n) => {
        const h = history.get(n.node);
        return (
          <article class="node card" aria-label={`node ${n.node}`} data-testid="node">
            <h2>
              {n.node} <span class={n.ok ? 'badge ok' : 'badge bad'}>{n.ok ? 'up' : 'down'}</span>
            </h2>
            {!n.ok && <p class="error-text">{text(n.error)}</p>}
            {n.ok && (
              <p class="meta">
                {text(n.version ?? '')} · up {uptime(n.uptime)}
              </p>
            )}
            <dl class="figures">
              <div><dt>Requests/s</dt><dd>{text(n.requestsPerSec ?? '–')}</dd></div>
              <div><dt>Replies/s</dt><dd title={replyClasses(n.repliesPerSec)}>{text(repliesTotal(n.repliesPerSec) ?? '–')}</dd></div>
              <div><dt>Registered users</dt><dd data-testid="registered-users">{text(n.registeredUsers ?? '–')}</dd></div>
              <div><dt>Contacts</dt><dd>{text(n.contacts ?? '–')}</dd></div>
              <div><dt>Active calls</dt><dd>{text(n.activeCalls ?? '–')}</dd></div>
            </dl>
            {h && (
              <Chart
                title={`Requests and replies per second, last hour (${n.node})`}
                yLabel="per second"
                window={3600}
                testid="rate-chart"
                series={[
                  { label: 'requests/s', stroke: '#1f6feb' },
                  { label: 'replies/s', stroke: '#2da44e' },
                ]}
                data={[h[0].slice(), h[1].slice(), h[2].slice()] as any}
              />
            )}
          </article>
        );
      })}
      <DataTable
        caption="Bans and lockouts, newest first"
        testid="bans"
        rows={bans as Row[]}
        columns={[{ key: 'table' }, { key: 'key', label: 'Banned' }, { key: 'expires', label: 'Expires', render: (r) => text(r.expires ?? 'gone') }, { key: 'node' }]}
        actions={canChange ? (r) => <button type="button" onClick={() => unban(r as Ban)} aria-label={`Unban ${text(r.key)}`}>Unban</button> : undefined}
        empty="No bans."
      />
      <DataTable
        caption="Nodes (sipctl nodes)"
        testid="nodes"
        rows={nodes.listing?.items ?? []}
        columns={[
          { key: 'node' },
          { key: 'url', label: 'RPC URL' },
          { key: 'ok', label: 'Answers', render: (r) => (r.ok ? 'yes' : text(r.error ?? 'no')) },
          { key: 'version' },
          { key: 'latencyMs', label: 'Latency (ms)' },
          {
            key: 'cluster',
            render: (r) => {
              const c = r.cluster as Row | undefined;
              if (!c) return '';
              if (!c.clustered) return 'not clustered';
              const members = Array.isArray(c.members) ? c.members.length : 0;
              return `${c.up ? 'cluster up' : 'cluster down'}, ${members} member(s)`;
            },
          },
        ]}
        empty={nodes.error ?? 'No nodes.'}
      />
      {(snapshot?.alertErrors ?? []).map((e) => (
        <p class="error-text" data-testid="alerts-error">{text(`${e.node}: alerts could not be read: ${e.error}`)}</p>
      ))}
      <DataTable
        caption="Alerts, newest first"
        testid="alerts"
        rows={(snapshot?.alerts ?? []) as Row[]}
        columns={[{ key: 'time' }, { key: 'severity' }, { key: 'type' }, { key: 'summary' }, { key: 'suppressed' }, { key: 'node' }]}
        empty="No alerts."
      />
    </section>
  );
}
