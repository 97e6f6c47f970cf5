import { useState } from 'preact/hooks';
import { del, post, put, seg, withQuery } from '../api';
import { done, failed, Warnings } from '../components/status';
import { confirmed, DataTable, Field, Pager } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { text, type Row } from '../data';

const LIMIT = 50;

function aorOf(r: Row): string {
  if (typeof r.aor === 'string') return r.aor;
  return r.domain ? `${text(r.username)}@${text(r.domain)}` : text(r.username);
}

export function Subscribers({ canChange }: { canChange: boolean }) {
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const [offset, setOffset] = useState(0);
  const { listing, error, loading, reload } = useListing(withQuery('/api/subscribers', { q: query, offset, limit: LIMIT }));
  const [aor, setAor] = useState('');
  const [password, setPassword] = useState('');
  const [generated, setGenerated] = useState<{ aor: string; password: string } | undefined>();
  const [editing, setEditing] = useState<string | undefined>();
  const [newPassword, setNewPassword] = useState('');

  async function add(e: Event) {
    e.preventDefault();
    setGenerated(undefined);
    try {
      const r = await post<Row>('/api/subscribers', password ? { aor, password } : { aor });
      const pw = (r.data?.password ?? r.data?.generatedPassword) as string | undefined;
      if (pw) setGenerated({ aor, password: pw });
      done(`Added ${aor}`, r);
      setAor('');
      setPassword('');
      reload();
    } catch (err) {
      failed(err, `Add ${aor}`);
    }
  }

  async function changePassword(e: Event, who: string) {
    e.preventDefault();
    setGenerated(undefined);
    try {
      const r = await put<Row>(`/api/subscribers/${seg(who)}/password`, newPassword ? { password: newPassword } : {});
      const pw = (r.data?.password ?? r.data?.generatedPassword) as string | undefined;
      if (pw) setGenerated({ aor: who, password: pw });
      done(`Changed the password of ${who}`, r);
      setEditing(undefined);
      setNewPassword('');
    } catch (err) {
      failed(err, `Change the password of ${who}`);
    }
  }

  async function remove(who: string) {
    if (!confirmed(`Remove subscriber ${who}? Its credentials are deleted.`)) return;
    try {
      const r = await del(`/api/subscribers/${seg(who)}`);
      done(`Removed ${who}`, r);
      reload();
    } catch (err) {
      failed(err, `Remove ${who}`);
    }
  }

  return (
    <section aria-labelledby="h-subscribers">
      <h1 id="h-subscribers">Subscribers</h1>
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setOffset(0);
          setQuery(q);
        }}
      >
        <Field label="Search" name="sub-q" type="search" value={q} onInput={setQ} placeholder="alice or @example.com" />
        <button type="submit">Search</button>
      </form>
      {canChange && (
        <form class="card form" onSubmit={add} aria-labelledby="h-sub-add">
          <h2 id="h-sub-add">Add a subscriber</h2>
          <Field label="Address of record" name="sub-aor" value={aor} onInput={setAor} required placeholder="alice@example.com" />
          <Field label="Password" name="sub-password" type="password" value={password} onInput={setPassword} autocomplete="new-password" hint="Leave empty and one is generated and shown once." />
          <button type="submit">Add</button>
        </form>
      )}
      {generated && (
        <div class="card secret" role="status" data-testid="generated-password">
          <h2>Generated password for {generated.aor}</h2>
          <p>
            <code>{generated.password}</code>
          </p>
          <p class="hint">Shown once: copy it now. It is not stored in the browser and cannot be shown again.</p>
          <button type="button" onClick={() => setGenerated(undefined)}>
            I have copied it
          </button>
        </div>
      )}
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={listing.warnings} />}
      <DataTable
        caption="Subscribers"
        testid="subscribers"
        rows={listing?.items ?? []}
        columns={[{ key: 'id', label: 'Id' }, { key: 'username' }, { key: 'domain' }, { key: 'hasPlaintextPassword', label: 'Plaintext password stored' }]}
        actions={
          canChange
            ? (r) => {
                const who = aorOf(r);
                return editing === who ? (
                  <form class="inline" onSubmit={(e) => changePassword(e, who)}>
                    <Field label={`New password for ${who}`} name="sub-newpw" type="password" value={newPassword} onInput={setNewPassword} autocomplete="new-password" hint="Empty: generate one." />
                    <button type="submit">Save</button>
                    <button type="button" onClick={() => setEditing(undefined)}>
                      Cancel
                    </button>
                  </form>
                ) : (
                  <>
                    <button type="button" onClick={() => { setEditing(who); setNewPassword(''); }} aria-label={`Change the password of ${who}`}>
                      Password
                    </button>
                    <button type="button" class="danger" onClick={() => remove(who)} aria-label={`Remove ${who}`}>
                      Remove
                    </button>
                  </>
                );
              }
            : undefined
        }
        empty={query ? 'No subscriber matches.' : 'No subscribers yet.'}
      />
      <Pager offset={offset} limit={LIMIT} total={listing?.total} shown={listing?.items.length ?? 0} onPage={setOffset} />
    </section>
  );
}
