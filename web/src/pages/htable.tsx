import { useState } from 'preact/hooks';
import { seg, withQuery } from '../api';
import { Warnings } from '../components/status';
import { DataTable, Field } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { text } from '../data';

export function Htable() {
  const tables = useListing('/api/htable');
  const [table, setTable] = useState<string | undefined>();
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const entries = useListing(table ? withQuery(`/api/htable/${seg(table)}`, { q: query }) : undefined);

  return (
    <section aria-labelledby="h-htable">
      <h1 id="h-htable">Hash tables</h1>
      <LoadState error={tables.error} loading={tables.loading && !tables.listing} />
      {tables.listing && <Warnings list={[...tables.listing.warnings, ...tables.listing.failures.map((f) => `${f.node}: ${f.message}`)]} />}
      <DataTable
        caption="Tables"
        testid="htables"
        rows={tables.listing?.items ?? []}
        columns={[{ key: 'name' }, { key: 'dbtable', label: 'DB table' }, { key: 'dbmode', label: 'DB mode' }, { key: 'expire' }, { key: 'size' }, { key: 'node' }]}
        actions={(r) => (
          <button type="button" aria-pressed={table === text(r.name)} onClick={() => { setTable(text(r.name)); setQuery(''); setQ(''); }} aria-label={`Show the entries of ${text(r.name)}`}>
            Entries
          </button>
        )}
        empty="No hash tables."
      />
      {table && (
        <section aria-labelledby="h-htable-entries">
          <h2 id="h-htable-entries">Entries of {table}</h2>
          <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); setQuery(q); }}>
            <Field label="Filter keys" name="ht-q" type="search" value={q} onInput={setQ} />
            <button type="submit">Filter</button>
            <button type="button" onClick={entries.reload}>Refresh</button>
          </form>
          <LoadState error={entries.error} loading={entries.loading && !entries.listing} />
          {entries.listing && <Warnings list={[...entries.listing.warnings, ...entries.listing.failures.map((f) => `${f.node}: ${f.message}`)]} />}
          <DataTable caption={`Entries of ${table}`} testid="htable-entries" rows={entries.listing?.items ?? []} columns={[{ key: 'key' }, { key: 'value' }, { key: 'type' }, { key: 'node' }]} empty="No entries." />
        </section>
      )}
    </section>
  );
}
