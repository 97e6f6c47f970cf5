import { useMemo, useState } from 'preact/hooks';
import { del, get, seg, withQuery } from '../api';
import { Chart } from '../components/chart';
import { done, failed, Warnings } from '../components/status';
import { confirmed, DataTable, Field, Pager } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { listOf, text, type Row } from '../data';
import { useEffect } from 'preact/hooks';

const LIMIT = 50;

function PerHour({ from, to }: { from: string; to: string }) {
  const [rows, setRows] = useState<Row[]>([]);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    get(withQuery('/api/cdrs/per-hour', { from, to })).then(
      (r) => {
        setRows(listOf(r.data).items);
        setError(undefined);
      },
      (e) => setError(String(e?.message ?? e)),
    );
  }, [from, to]);
  const data = useMemo(() => {
    const xs: number[] = [];
    const ys: number[] = [];
    for (const r of rows) {
      const t = typeof r.hour === 'number' ? r.hour : Date.parse(String(r.hour)) / 1000;
      if (Number.isFinite(t)) {
        xs.push(t);
        ys.push(Number(r.calls) || 0);
      }
    }
    return [xs, ys];
  }, [rows]);
  if (error) return <p class="error-text">Calls per hour: {error}</p>;
  return <Chart title="Calls per hour" testid="per-hour-chart" yLabel="calls" series={[{ label: 'calls', stroke: '#8250df', fill: 'rgba(130,80,223,0.3)', bars: true }]} data={data as any} />;
}

export function Calls({ canChange }: { canChange: boolean }) {
  const active = useListing('/api/calls');
  const [f, setF] = useState({ from: '', to: '', user: '' });
  const [filters, setFilters] = useState(f);
  const [offset, setOffset] = useState(0);
  const cdrs = useListing(withQuery('/api/cdrs', { ...filters, offset, limit: LIMIT }));
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });

  async function end(r: Row) {
    const id = text(r.callId ?? r.id);
    if (!confirmed(`End the call ${id} (${text(r.from)} → ${text(r.to)})?`)) return;
    try {
      done(`Ended the call ${id}`, await del(`/api/calls/${seg(id)}`));
      active.reload();
    } catch (e) {
      failed(e, `End the call ${id}`);
    }
  }

  return (
    <section aria-labelledby="h-calls">
      <h1 id="h-calls">Calls</h1>
      <button type="button" onClick={active.reload}>Refresh</button>
      <LoadState error={active.error} loading={active.loading && !active.listing} />
      {active.listing && <Warnings list={[...active.listing.warnings, ...active.listing.failures.map((x) => `${x.node}: ${x.message}`)]} />}
      <DataTable
        caption="Active calls"
        testid="active-calls"
        rows={active.listing?.items ?? []}
        columns={[{ key: 'callId', label: 'Call-ID' }, { key: 'from' }, { key: 'to' }, { key: 'state' }, { key: 'started' }, { key: 'duration' }, { key: 'caller' }, { key: 'node' }]}
        actions={canChange ? (r) => <button type="button" class="danger" onClick={() => end(r)} aria-label={`End the call ${text(r.callId)}`}>End</button> : undefined}
        empty="No active calls."
      />
      <h2>Call history</h2>
      <form class="toolbar" role="search" aria-label="Filter the call history" onSubmit={(e) => { e.preventDefault(); setOffset(0); setFilters(f); }}>
        <Field label="From (date/time)" name="cdr-from" value={f.from} onInput={set('from')} placeholder="2026-12-01 or -24h" />
        <Field label="To (date/time)" name="cdr-to" value={f.to} onInput={set('to')} placeholder="2026-12-07" />
        <Field label="User" name="cdr-user" value={f.user} onInput={set('user')} placeholder="alice" />
        <button type="submit">Filter</button>
      </form>
      <PerHour from={filters.from} to={filters.to} />
      <LoadState error={cdrs.error} loading={cdrs.loading && !cdrs.listing} />
      {cdrs.listing && <Warnings list={cdrs.listing.warnings} />}
      <DataTable caption="Call detail records" testid="cdrs" rows={cdrs.listing?.items ?? []} columns={[{ key: 'start' }, { key: 'caller' }, { key: 'callee' }, { key: 'duration' }, { key: 'sipCode', label: 'SIP code' }, { key: 'sipReason', label: 'SIP reason' }, { key: 'endReason', label: 'End reason' }, { key: 'callId', label: 'Call-ID' }]} empty="No calls in this period." />
      <Pager offset={offset} limit={LIMIT} total={cdrs.listing?.total} shown={cdrs.listing?.items.length ?? 0} onPage={setOffset} />
    </section>
  );
}
