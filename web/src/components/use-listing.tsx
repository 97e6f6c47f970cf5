import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, get } from '../api';
import { listOf, type Listing } from '../data';

/** GET a list endpoint, again whenever `path` changes or reload() is called. */
export function useListing(path: string | undefined) {
  const [listing, setListing] = useState<Listing | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setLoading(true);
    get(path).then(
      (r) => {
        if (!live) return;
        const l = listOf(r.data);
        if (r.warnings) l.warnings.push(...r.warnings);
        setListing(l);
        setError(undefined);
        setLoading(false);
      },
      (e) => {
        if (!live) return;
        setError(e instanceof ApiError ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : String(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [path, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { listing, error, loading, reload };
}

export function LoadState({ error, loading }: { error?: string; loading: boolean }) {
  if (error) return <p class="error-text" role="alert">{error}</p>;
  if (loading) return <p class="meta" aria-live="polite">Loading…</p>;
  return null;
}
