import { useState } from 'preact/hooks';
import { del, withQuery } from '../api';
import { done, failed, Warnings } from '../components/status';
import { confirmed, DataTable, Field, Pager } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { text, type Row } from '../data';

const LIMIT = 50;

export function Location({ canChange }: { canChange: boolean }) {
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const [offset, setOffset] = useState(0);
  const { listing, error, loading, reload } = useListing(withQuery('/api/location', { q: query, offset, limit: LIMIT }));

  async function remove(r: Row) {
    const aor = text(r.aor);
    const contact = text(r.contact);
    if (!confirmed(`Remove the contact ${contact} of ${aor}?`)) return;
    try {
      const res = await del(withQuery('/api/location', { aor, contact }));
      done(`Removed a contact of ${aor}`, res);
      reload();
    } catch (e) {
      failed(e, `Remove the contact of ${aor}`);
    }
  }

  return (
    <section aria-labelledby="h-location">
      <h1 id="h-location">Location</h1>
      <p class="meta">Who is registered where, as the proxies hold it (usrloc).</p>
      <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); setOffset(0); setQuery(q); }}>
        <Field label="Search" name="loc-q" type="search" value={q} onInput={setQ} placeholder="alice@example.com" />
        <button type="submit">Search</button>
        <button type="button" onClick={reload}>Refresh</button>
      </form>
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={[...listing.warnings, ...listing.failures.map((f) => `${f.node}: ${f.message}`)]} />}
      <DataTable
        caption="Registered contacts"
        testid="location"
        rows={listing?.items ?? []}
        columns={[
          { key: 'aor', label: 'AoR' },
          { key: 'contact' },
          { key: 'userAgent', label: 'User agent' },
          { key: 'expires' },
          { key: 'received' },
          { key: 'node' },
        ]}
        actions={canChange ? (r) => <button type="button" class="danger" onClick={() => remove(r)} aria-label={`Remove the contact ${text(r.contact)} of ${text(r.aor)}`}>Remove</button> : undefined}
        empty="Nobody is registered."
      />
      <Pager offset={offset} limit={LIMIT} total={listing?.total} shown={listing?.items.length ?? 0} onPage={setOffset} />
    </section>
  );
}
