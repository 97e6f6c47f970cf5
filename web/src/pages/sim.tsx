import { useEffect, useRef, useState } from 'preact/hooks';
import { call, get, seg, withQuery } from '../api';
import { done, failed, Warnings } from '../components/status';
import { DataTable, Field, Pager } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { text, type Row } from '../data';

const LIMIT = 50;
interface Job { done: boolean; total: number; imported: number; errors: unknown[] }
// formats as `sipctl sim import --format` takes them

export function Sim({ canChange }: { canChange: boolean }) {
  const [offset, setOffset] = useState(0);
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const { listing, error, loading, reload } = useListing(withQuery('/api/sim', { q: query, offset, limit: LIMIT }));
  const [format, setFormat] = useState('auto');
  const [op, setOp] = useState('');
  const file = useRef<HTMLInputElement>(null);
  const [job, setJob] = useState<{ id: string; state?: Job } | undefined>();

  useEffect(() => {
    if (!job || job.state?.done) return;
    const t = setTimeout(async () => {
      try {
        const r = await get<Job>(`/api/sim/import/${seg(job.id)}`);
        setJob({ id: job.id, state: r.data });
        if (r.data?.done) reload();
      } catch (e) {
        failed(e, 'Import progress');
        setJob(undefined);
      }
    }, 500);
    return () => clearTimeout(t);
  }, [job]);

  async function upload(e: Event) {
    e.preventDefault();
    const f = file.current?.files?.[0];
    if (!f) return;
    try {
      const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
      if (op) headers['X-Sim-Op'] = op;
      const r = await call<{ job: string }>('POST', withQuery('/api/sim/import', { format }), { raw: f, headers });
      setOp('');
      done(`Importing ${f.name}`, r);
      setJob({ id: String(r.data.job) });
    } catch (err) {
      failed(err, `Import ${f.name}`);
    }
  }

  const s = job?.state;
  return (
    <section aria-labelledby="h-sim">
      <h1 id="h-sim">SIM cards</h1>
      {canChange && (
        <form class="card form" onSubmit={upload} aria-labelledby="h-sim-import">
          <h2 id="h-sim-import">Import a vendor file</h2>
          <div class="field">
            <label for="f-sim-file">File</label>
            <input id="f-sim-file" type="file" ref={file} required />
          </div>
          <div class="field">
            <label for="f-sim-format">Format</label>
            <select id="f-sim-format" value={format} onChange={(e) => setFormat((e.currentTarget as HTMLSelectElement).value)}>
              {['auto', 'csv', 'vendor'].map((x) => (
                <option value={x}>{x}</option>
              ))}
            </select>
          </div>
          <Field label="OP (hex, optional)" name="sim-op" type="password" value={op} onInput={setOp} autocomplete="off" hint="Sent once in a header, never stored in the browser; empty: the configured OP source." />
          <button type="submit">Import</button>
        </form>
      )}
      {job && (
        <div class="card" aria-live="polite" data-testid="sim-import">
          <label for="sim-progress">Import progress</label>
          <progress id="sim-progress" max={s?.total || 1} value={s ? s.imported : undefined} />
          <p>{s ? `${s.imported} of ${s.total} imported${s.done ? ', done' : ''}${s.errors.length ? `, ${s.errors.length} errors` : ''}` : 'Starting…'}</p>
          {s?.errors.length ? (
            <ul class="warnings" aria-label="import errors">
              {s.errors.slice(0, 50).map((x) => (
                <li>{x && typeof x === 'object' && 'reason' in x ? `${(x as Row).line !== undefined ? `line ${text((x as Row).line)}: ` : ''}${text((x as Row).reason)}` : text(x)}</li>
              ))}
            </ul>
          ) : null}
        </div>
      )}
      <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); setOffset(0); setQuery(q); }}>
        <Field label="IMSI prefix" name="sim-q" type="search" value={q} onInput={setQ} inputMode="numeric" placeholder="00101" />
        <button type="submit">Search</button>
      </form>
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={listing.warnings} />}
      <DataTable caption="SIM records (keys masked)" testid="sims" rows={(listing?.items ?? []) as Row[]} columns={[{ key: 'imsi', label: 'IMSI' }, { key: 'iccid', label: 'ICCID' }, { key: 'msisdn', label: 'MSISDN' }, { key: 'ki', label: 'Ki' }, { key: 'opc', label: 'OPc' }, { key: 'amf', label: 'AMF' }, { key: 'sqn', label: 'SQN' }, { key: 'batch' }, { key: 'vendor' }]} empty="No SIM records." />
      <Pager offset={offset} limit={LIMIT} total={listing?.total} shown={listing?.items.length ?? 0} onPage={setOffset} />
    </section>
  );
}
