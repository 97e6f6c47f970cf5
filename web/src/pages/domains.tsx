import { useState } from 'preact/hooks';
import { del, post, seg } from '../api';
import { done, failed, Warnings } from '../components/status';
import { confirmed, DataTable, Field } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { text, type Row } from '../data';

export function Domains({ canChange }: { canChange: boolean }) {
  const { listing, error, loading, reload } = useListing('/api/domains');
  const [domain, setDomain] = useState('');

  async function add(e: Event) {
    e.preventDefault();
    try {
      const r = await post('/api/domains', { domain });
      done(`Added domain ${domain}`, r);
      setDomain('');
      reload();
    } catch (err) {
      failed(err, `Add ${domain}`);
    }
  }
  async function remove(r: Row) {
    const d = text(r.domain);
    if (!confirmed(`Remove the domain ${d}? The proxy stops serving it.`)) return;
    try {
      done(`Removed domain ${d}`, await del(`/api/domains/${seg(d)}`));
      reload();
    } catch (err) {
      failed(err, `Remove ${d}`);
    }
  }

  return (
    <section aria-labelledby="h-domains">
      <h1 id="h-domains">Domains</h1>
      {canChange && (
        <form class="card form" onSubmit={add} aria-label="Add a domain">
          <Field label="Domain" name="dom-domain" value={domain} onInput={setDomain} required placeholder="example.com" />
          <button type="submit">Add</button>
        </form>
      )}
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={listing.warnings} />}
      <DataTable
        caption="Domains served"
        testid="domains"
        rows={listing?.items ?? []}
        columns={[{ key: 'id', label: 'Id' }, { key: 'domain' }, { key: 'did', label: 'DID' }, { key: 'lastModified', label: 'Last modified' }]}
        actions={canChange ? (r) => <button type="button" class="danger" onClick={() => remove(r)} aria-label={`Remove ${text(r.domain)}`}>Remove</button> : undefined}
        empty="No domains."
      />
    </section>
  );
}
