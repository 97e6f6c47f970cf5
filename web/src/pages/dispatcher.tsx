import { post } from '../api';
import { done, failed, Warnings } from '../components/status';
import { DataTable } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { text, type Row } from '../data';

const STATES = ['active', 'inactive', 'disabled', 'probing'] as const;

/** Kamailio's flags in dispatcher.list: A active, I inactive, D disabled, P probing (AP = active and probing). */
function stateOf(r: Row): string {
  const s = r.state;
  if (s && typeof s === 'object') return text((s as Row).state ?? (s as Row).flags ?? JSON.stringify(s));
  return text(s ?? 'not loaded');
}

export function Dispatcher({ canChange }: { canChange: boolean }) {
  const { listing, error, loading, reload } = useListing('/api/dispatcher');

  async function setState(r: Row, state: (typeof STATES)[number]) {
    try {
      const res = await post('/api/dispatcher/state', { setid: r.setid, destination: r.destination, state });
      done(`Set ${text(r.destination)} (set ${text(r.setid)}) ${state}`, res);
      reload();
    } catch (e) {
      failed(e, `Set ${text(r.destination)} ${state}`);
    }
  }

  return (
    <section aria-labelledby="h-dispatcher">
      <h1 id="h-dispatcher">Dispatcher</h1>
      <p class="meta">
        Destination sets from the dispatcher table, with the state the proxy holds for each (A active, I inactive, D disabled, P probing).
      </p>
      <button type="button" onClick={reload}>Refresh</button>
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={[...listing.warnings, ...listing.failures.map((f) => `${f.node}: ${f.message}`)]} />}
      <DataTable
        caption="Dispatcher destinations"
        testid="dispatcher"
        rows={listing?.items ?? []}
        columns={[
          { key: 'setid', label: 'Set' },
          { key: 'destination' },
          { key: 'state', label: 'State', render: stateOf },
          { key: 'probing', render: (r) => (r.probing === undefined ? '' : r.probing ? 'yes' : 'no') },
          { key: 'flags' },
          { key: 'priority' },
          { key: 'attrs' },
          { key: 'description' },
        ]}
        actions={
          canChange
            ? (r) => (
                <div class="btn-group" role="group" aria-label={`State of ${text(r.destination)}`}>
                  {STATES.map((s) => (
                    <button type="button" onClick={() => setState(r, s)} aria-label={`Set ${text(r.destination)} ${s}`}>
                      {s}
                    </button>
                  ))}
                </div>
              )
            : undefined
        }
        empty="No destinations."
      />
    </section>
  );
}
