// The sipctl web console: one page per sipctl topic, each calling the JSON API of `sipctl web`
// (src/core/web/API.md). Hash routes (#/subscribers) so the server serves one index.html.
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, setCsrf, whenUnauthenticated, type Session } from './api';
import { notify, StatusRegion } from './components/status';
import { startLive, stopLive } from './live';
import { Address } from './pages/address';
import { Calls } from './pages/calls';
import { Dashboard } from './pages/dashboard';
import { Dialplan } from './pages/dialplan';
import { Dispatcher } from './pages/dispatcher';
import { Domains } from './pages/domains';
import { Htable } from './pages/htable';
import { Location } from './pages/location';
import { Login } from './pages/login';
import { Sim } from './pages/sim';
import { Subscribers } from './pages/subscribers';

type PageProps = { canChange: boolean };
const PAGES: { path: string; title: string; view: (p: PageProps) => any }[] = [
  { path: 'dashboard', title: 'Dashboard', view: Dashboard },
  { path: 'subscribers', title: 'Subscribers', view: Subscribers },
  { path: 'location', title: 'Location', view: Location },
  { path: 'address', title: 'Address groups & trusted', view: Address },
  { path: 'domains', title: 'Domains', view: Domains },
  { path: 'dispatcher', title: 'Dispatcher', view: Dispatcher },
  { path: 'dialplan', title: 'Dialplan', view: Dialplan },
  { path: 'htable', title: 'Hash tables', view: Htable },
  { path: 'calls', title: 'Calls', view: Calls },
  { path: 'sim', title: 'SIM cards', view: Sim },
];

function route(): string {
  const p = location.hash.replace(/^#\/?/, '');
  return PAGES.some((x) => x.path === p) ? p : 'dashboard';
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [page, setPage] = useState(route());
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    whenUnauthenticated(() => {
      stopLive();
      setSession(null);
    });
    get<Session>('/api/session').then(
      (r) => login(r.data),
      (e) => setSession(e instanceof ApiError && e.status === 401 ? null : null),
    );
    const onHash = () => {
      setPage(route());
      setMenuOpen(false);
      notify(undefined);
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const p = PAGES.find((x) => x.path === page);
    document.title = `${p?.title ?? 'sipctl'} · sipctl web console`;
    // Move focus to the new page's heading so keyboard and screen-reader users land there.
    const h = document.querySelector<HTMLElement>('main h1');
    if (h && session) {
      h.tabIndex = -1;
      h.focus({ preventScroll: true });
    }
  }, [page, session]);

  function login(s: Session) {
    setCsrf(s.csrf);
    setSession(s);
    startLive();
  }

  async function logout() {
    try {
      await post('/api/logout');
    } catch {
      /* gone already */
    }
    setCsrf('');
    stopLive();
    notify(undefined);
    setSession(null);
  }

  if (session === undefined) return <p class="meta">Loading…</p>;
  if (session === null) return <Login onLogin={login} />;

  const canChange = session.user.role === 'operator';
  const View = PAGES.find((x) => x.path === page)!.view;
  return (
    <div class="layout">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.querySelector<HTMLElement>('main h1')?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <button type="button" class="menu-button" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <span class="brand">sipctl</span>
        <span class="who" data-testid="who">
          {session.user.name} <span class="badge">{session.user.role}</span>
        </span>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <nav id="nav" class={menuOpen ? 'nav open' : 'nav'} aria-label="sections">
        <ul>
          {PAGES.map((p) => (
            <li>
              <a href={`#/${p.path}`} aria-current={p.path === page ? 'page' : undefined} onClick={() => setMenuOpen(false)}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        {!canChange && <p class="meta readonly">Read only: your account has the viewer role.</p>}
        <StatusRegion />
        <View canChange={canChange} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
