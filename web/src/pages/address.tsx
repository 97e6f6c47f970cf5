import { useState } from 'preact/hooks';
import { del, post } from '../api';
import { done, failed, Warnings } from '../components/status';
import { confirmed, DataTable, Field } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { text, type Row } from '../data';

const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

function AddressGroups({ canChange }: { canChange: boolean }) {
  const { listing, error, loading, reload } = useListing('/api/address');
  const [f, setF] = useState({ group: '1', address: '', mask: '', port: '', tag: '' });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });

  async function add(e: Event) {
    e.preventDefault();
    try {
      const r = await post('/api/address', { group: num(f.group), address: f.address, mask: num(f.mask), port: num(f.port), tag: f.tag || undefined });
      done(`Added ${f.address} to group ${f.group}`, r);
      setF({ ...f, address: '', mask: '', port: '', tag: '' });
      reload();
    } catch (err) {
      failed(err, `Add ${f.address}`);
    }
  }
  async function remove(r: Row) {
    const group = r.grp ?? r.group;
    if (!confirmed(`Remove ${text(r.ip ?? r.address)} from group ${text(group)}?`)) return;
    try {
      const res = await del('/api/address', { group, address: r.ip ?? r.address, mask: r.mask, port: r.port });
      done(`Removed ${text(r.ip ?? r.address)} from group ${text(group)}`, res);
      reload();
    } catch (err) {
      failed(err, 'Remove the address');
    }
  }
  async function reloadProxy() {
    try {
      done('The proxies reloaded the address table', await post('/api/address/reload'));
    } catch (err) {
      failed(err, 'Reload');
    }
  }

  return (
    <section aria-labelledby="h-address">
      <h1 id="h-address">Address groups</h1>
      {canChange && (
        <form class="card form" onSubmit={add} aria-label="Add an address">
          <Field label="Group" name="addr-group" value={f.group} onInput={set('group')} required inputMode="numeric" />
          <Field label="Address" name="addr-address" value={f.address} onInput={set('address')} required placeholder="192.0.2.10" />
          <Field label="Mask" name="addr-mask" value={f.mask} onInput={set('mask')} placeholder="32" inputMode="numeric" />
          <Field label="Port" name="addr-port" value={f.port} onInput={set('port')} placeholder="0 (any)" inputMode="numeric" />
          <Field label="Tag" name="addr-tag" value={f.tag} onInput={set('tag')} />
          <button type="submit">Add</button>
          <button type="button" onClick={reloadProxy}>Reload proxies</button>
        </form>
      )}
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={listing.warnings} />}
      <DataTable
        caption="Address groups (permissions address table)"
        testid="address"
        rows={listing?.items ?? []}
        columns={[{ key: 'id', label: 'Id' }, { key: 'grp', label: 'Group' }, { key: 'ip', label: 'Address' }, { key: 'mask' }, { key: 'port' }, { key: 'tag' }]}
        actions={canChange ? (r) => <button type="button" class="danger" onClick={() => remove(r)} aria-label={`Remove ${text(r.ip ?? r.address)}`}>Remove</button> : undefined}
        empty="No addresses."
      />
    </section>
  );
}

function Trusted({ canChange }: { canChange: boolean }) {
  const { listing, error, loading, reload } = useListing('/api/trusted');
  const [f, setF] = useState({ srcIp: '', proto: 'any', fromPattern: '', tag: '' });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });

  async function add(e: Event) {
    e.preventDefault();
    try {
      const r = await post('/api/trusted', { srcIp: f.srcIp, proto: f.proto, fromPattern: f.fromPattern || undefined, tag: f.tag || undefined });
      done(`Trusted ${f.srcIp}`, r);
      setF({ srcIp: '', proto: 'any', fromPattern: '', tag: '' });
      reload();
    } catch (err) {
      failed(err, `Trust ${f.srcIp}`);
    }
  }
  async function remove(r: Row) {
    if (!confirmed(`Stop trusting ${text(r.srcIp)} (${text(r.proto)})?`)) return;
    try {
      const res = await del('/api/trusted', { srcIp: r.srcIp, proto: r.proto, fromPattern: r.fromPattern ?? undefined, id: r.id });
      done(`Removed trusted peer ${text(r.srcIp)}`, res);
      reload();
    } catch (err) {
      failed(err, 'Remove the trusted peer');
    }
  }

  return (
    <section aria-labelledby="h-trusted">
      <h2 id="h-trusted">Trusted peers</h2>
      {canChange && (
        <form class="card form" onSubmit={add} aria-label="Add a trusted peer">
          <Field label="Source IP" name="tr-src" value={f.srcIp} onInput={set('srcIp')} required placeholder="198.51.100.7" />
          <div class="field">
            <label for="f-tr-proto">Transport</label>
            <select id="f-tr-proto" value={f.proto} onChange={(e) => set('proto')((e.currentTarget as HTMLSelectElement).value)}>
              {['any', 'udp', 'tcp', 'tls', 'sctp', 'ws', 'wss'].map((p) => (
                <option value={p}>{p}</option>
              ))}
            </select>
          </div>
          <Field label="From pattern" name="tr-from" value={f.fromPattern} onInput={set('fromPattern')} placeholder="^sip:.*@carrier\.example$" />
          <Field label="Tag" name="tr-tag" value={f.tag} onInput={set('tag')} />
          <button type="submit">Add</button>
        </form>
      )}
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={listing.warnings} />}
      <DataTable
        caption="Trusted peers (permissions trusted table)"
        testid="trusted"
        rows={listing?.items ?? []}
        columns={[{ key: 'id', label: 'Id' }, { key: 'srcIp', label: 'Source IP' }, { key: 'proto', label: 'Transport' }, { key: 'fromPattern', label: 'From pattern' }, { key: 'ruriPattern', label: 'R-URI pattern' }, { key: 'tag' }, { key: 'priority' }]}
        actions={canChange ? (r) => <button type="button" class="danger" onClick={() => remove(r)} aria-label={`Remove trusted peer ${text(r.srcIp)}`}>Remove</button> : undefined}
        empty="No trusted peers."
      />
    </section>
  );
}

export function Address({ canChange }: { canChange: boolean }) {
  return (
    <>
      <AddressGroups canChange={canChange} />
      <Trusted canChange={canChange} />
    </>
  );
}
