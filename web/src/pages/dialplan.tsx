import { useState } from 'preact/hooks';
import { post } from '../api';
import { failed, Warnings } from '../components/status';
import { DataTable, Field } from '../components/table';
import { LoadState, useListing } from '../components/use-listing';
import { listOf, type Listing } from '../data';

export function Dialplan() {
  const { listing, error, loading } = useListing('/api/dialplan');
  const [dpid, setDpid] = useState('1');
  const [input, setInput] = useState('');
  const [result, setResult] = useState<Listing | undefined>();
  const [command, setCommand] = useState<string | undefined>();

  async function translate(e: Event) {
    e.preventDefault();
    try {
      const r = await post('/api/dialplan/translate', { dpid: Number(dpid), input });
      const l = listOf(r.data);
      if (!l.items.length && r.data && typeof r.data === 'object' && !Array.isArray(r.data) && !('nodes' in (r.data as object))) l.items = [r.data as any];
      setResult(l);
      setCommand(r.command);
    } catch (err) {
      setResult(undefined);
      failed(err, `Translate ${input}`);
    }
  }

  return (
    <section aria-labelledby="h-dialplan">
      <h1 id="h-dialplan">Dialplan</h1>
      <form class="card form" onSubmit={translate} aria-labelledby="h-dp-test">
        <h2 id="h-dp-test">Translate tester</h2>
        <Field label="Dialplan id" name="dp-dpid" value={dpid} onInput={setDpid} required inputMode="numeric" />
        <Field label="Number or string" name="dp-input" value={input} onInput={setInput} required placeholder="0049301234" />
        <button type="submit">Translate</button>
      </form>
      <div aria-live="polite">
        {result && (
          <>
            <DataTable caption="Translation" testid="translation" rows={result.items} columns={[{ key: 'node' }, { key: 'input' }, { key: 'output' }, { key: 'attrs' }]} empty="No rule matched." />
            <Warnings list={[...result.warnings, ...result.failures.map((f) => `${f.node}: ${f.message}`)]} />
            {command && (
              <p class="notice-command">
                Same from the command line: <code>{command}</code>
              </p>
            )}
          </>
        )}
      </div>
      <LoadState error={error} loading={loading && !listing} />
      {listing && <Warnings list={listing.warnings} />}
      <DataTable caption="Dialplan rules" testid="dialplan" rows={listing?.items ?? []} columns={[{ key: 'id', label: 'Id' }, { key: 'dpid', label: 'Dpid' }, { key: 'pr', label: 'Priority' }, { key: 'matchOp', label: 'Match op' }, { key: 'matchExp', label: 'Match' }, { key: 'matchLen', label: 'Match length' }, { key: 'substExp', label: 'Substitute' }, { key: 'replExp', label: 'Replacement' }, { key: 'attrs' }]} empty="No rules." />
    </section>
  );
}
