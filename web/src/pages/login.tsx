import { useState } from 'preact/hooks';
import { ApiError, post, type Session } from '../api';
import { Field } from '../components/table';

export function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await post<Session>('/api/login', { name, password });
      setPassword('');
      onLogin(r.data);
    } catch (err) {
      setPassword('');
      if (err instanceof ApiError && err.status === 429)
        setError(`${err.message}${err.retryAfter ? ` Try again in ${err.retryAfter} s.` : ''}`);
      else setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login" id="main">
      <form class="card form" onSubmit={submit} aria-labelledby="h-login">
        <h1 id="h-login">sipctl web console</h1>
        <Field label="User" name="login-name" value={name} onInput={setName} required autocomplete="username" />
        <Field label="Password" name="login-password" type="password" value={password} onInput={setPassword} required autocomplete="current-password" />
        <button type="submit" disabled={busy}>
          Log in
        </button>
        <div aria-live="assertive">
          {error && (
            <p class="error-text" role="alert" data-testid="login-error">
              {error}
            </p>
          )}
        </div>
        <p class="hint">Accounts are made with <code>sipctl web user add NAME</code>.</p>
      </form>
    </main>
  );
}
