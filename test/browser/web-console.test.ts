/**
 * Issue 17: the web console in a real browser (Debian's chromium, headless, driven by
 * playwright-core) against the built `sipctl web` and a live proxy: Kamailio 5.6 from the lab
 * config with the issue-12 modules by default, sipd in the web-console-sipd twin (see
 * test/interop/rpc-target.ts), both on a MariaDB database made by `sipctl db init`.
 * The proxy's own RPC replies (not sipctl's client) are the oracle for what a click changed.
 *
 * SIPCTL_WEB_SCREENSHOTS=DIR saves PNGs of the dashboard, subscribers, location and dispatcher
 * pages there (docs/ holds the ones the README shows).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialog, Page } from 'playwright-core';
import { ISSUE12_MODULES } from '../helpers/kamailio-modules.js';
import { startKamailio, stopAllKamailio } from '../helpers/kamailio.js';
import { requireComponent, requireTools } from '../helpers/require.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { register as sippRegisterFrom, scenario, settle, sipp } from '../daemon/calls-support.js';
import { freeSipPort } from '../daemon/sipd-process.js';
import { TARGET, TARGET_EXPECT, makeProxyDb, registerWithUserAgent, sipctlWith, startProxy, stopAllProxies, targetMissing, type ProxyDb, type ProxyUnderTest } from '../interop/rpc-target.js';
import { addWebUser, browserMissing, launchBrowser, loginWithKeyboard, REPO, startWeb, type Browser, type WebServer } from './console.js';

after(stopAllProxies);
after(stopAllKamailio);

const OPERATOR = { name: 'ops', password: 'Operator-web-pw-1' };
const VIEWER = { name: 'noc', password: 'Viewer-web-pw-22' };
const LOCKED = { name: 'night', password: 'Guarded-web-pw-333' };
const SUBSCRIBER = 'webu1';
const BANNED_IP = '192.0.2.66';
const DESTINATION = 'sip:192.0.2.30:5060';
// Markup in a User-Agent comment: valid for sipd's User-Agent grammar (a comment takes any text
// but parentheses), stored by both proxies, and harmful only if the console rendered it as HTML.
const HOSTILE_UA = 'xss-probe/1.0 (<script>window.pwned=1;document.title="pwned"</script><img src=x onerror=window.pwned=2>)';
const SHOTS = process.env.SIPCTL_WEB_SCREENSHOTS;

/** Everything in one proxy's htable, as text (the oracle for bans). */
async function htableText(px: ProxyUnderTest, table: string): Promise<string> {
  const r = await px.rpc('htable.dump', [table]);
  return JSON.stringify(r.result ?? r.error ?? null);
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  const dir = join(REPO, SHOTS);
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name), fullPage: false });
}

/**
 * The proxy: for Kamailio the lab config with the issue-12 modules and auth_db on the ha1 column
 * (what `sipctl add` stores by default; the stock calculate_ha1 needs --store-plaintext, see
 * test/interop/stock-auth.test.ts), for sipd rpc-target's.
 */
async function startTarget(dbUrl: string): Promise<ProxyUnderTest> {
  if (TARGET !== 'kamailio') return startProxy({ dbUrl });
  const k = await startKamailio({ dbUrl, extraModules: ISSUE12_MODULES, authMode: 'ha1' });
  return { kind: 'kamailio', rpcUrl: k.rpcUrl, sipPort: k.sipPort, rpc: (m, p) => k.rpc(m, p), expect: TARGET_EXPECT, stop: () => k.stop() };
}

describe(`web console in chromium against ${TARGET}`, () => {
  let pdb: ProxyDb;
  let px: ProxyUnderTest;
  let env: NodeJS.ProcessEnv;
  let sipctl: ReturnType<typeof sipctlWith>;
  let web: WebServer;
  let browser: Browser;
  let page: Page;
  const dialogs: Array<{ type: string; message: string }> = [];
  // script errors and console errors but the browser's own note on each 4xx/5xx answer (the
  // tests cause 400, 401, 403 and 429 on purpose); a CSP violation would be one of these
  const scriptErrors: string[] = [];
  let generated = '';

  before(async () => {
    requireComponent(targetMissing());
    requireComponent(browserMissing());
    requireTools('sipsak');
    pdb = await makeProxyDb();
    px = await startTarget(pdb.db.fullUrl);
    env = { ...pdb.env, SIPCTL_RPC: px.rpcUrl };
    sipctl = sipctlWith(env);
    await addWebUser(env, OPERATOR.name, 'operator', OPERATOR.password);
    await addWebUser(env, VIEWER.name, 'viewer', VIEWER.password);
    await addWebUser(env, LOCKED.name, 'operator', LOCKED.password);
    web = await startWeb(env);
    browser = await launchBrowser();
    page = browser.page;
    // confirm() of destructive actions is answered yes; every dialog is recorded (the
    // hostile User-Agent must open none)
    page.on('dialog', (d: Dialog) => {
      dialogs.push({ type: d.type(), message: d.message() });
      void (d.type() === 'confirm' ? d.accept() : d.dismiss());
    });
    page.on('pageerror', (e) => scriptErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of [45]\d\d/.test(m.text())) scriptErrors.push(`console: ${m.text()}`);
    });
  });
  after(async () => {
    await browser?.close();
    await web?.stop();
    await px?.stop();
    await pdb?.db.drop();
  });

  /** Clear the status region, so that the next commandShown() is the next change's. */
  async function dismiss(): Promise<void> {
    const d = page.getByRole('button', { name: 'Dismiss' });
    if (await d.count()) await d.click();
  }

  /** The status region's `sipctl …` line after a change. */
  async function commandShown(): Promise<string> {
    const c = page.getByTestId('command');
    await c.waitFor({ timeout: 15_000 });
    return (await c.textContent()) ?? '';
  }

  test('log in from the keyboard; the dashboard shows the node live', async () => {
    await loginWithKeyboard(page, web.url, OPERATOR.name, OPERATOR.password);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByTestId('who').getByText('operator').waitFor();
    const node = page.getByTestId('node').first();
    await node.getByText('up', { exact: true }).waitFor({ timeout: 20_000 });
    await page.getByTestId('live-state').getByText(/^Live/).waitFor({ timeout: 20_000 });
    // the session cookie is HttpOnly and SameSite=Strict: page script cannot read it
    assert.equal(await page.evaluate(() => document.cookie), '');
    const cookie = (await browser.context.cookies()).find((c) => c.name === 'sipctl_session');
    assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
    await page.getByTestId('rate-chart').locator('canvas').waitFor({ timeout: 20_000 });
  });

  test('add a subscriber (generated password shown once), it registers with sipsak and appears on the location page', async () => {
    await page.getByRole('link', { name: 'Subscribers' }).click();
    await page.getByRole('heading', { name: 'Subscribers', level: 1 }).waitFor();
    await page.getByLabel('Address of record').fill(`${SUBSCRIBER}@127.0.0.1`);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const secret = page.getByTestId('generated-password').locator('code');
    await secret.waitFor();
    generated = (await secret.textContent()) ?? '';
    assert.ok(generated.length >= 12, `generated password: ${generated.length} characters`);
    assert.equal(await commandShown(), `sipctl add ${SUBSCRIBER}@127.0.0.1 --generate`);
    await page.getByTestId('subscribers').getByRole('cell', { name: SUBSCRIBER, exact: true }).waitFor();
    await shot(page, 'web-subscribers.png');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    assert.equal(await page.getByTestId('generated-password').count(), 0, 'the password is shown once');

    // No manual auth.reloadCredentials: the console's add reloads sipd's credential cache itself
    // (core/subscribers/credential-reload.ts), so the new subscriber registers at once.
    const reg = await sipsakRegister({ user: SUBSCRIBER, password: generated, domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: px.sipPort, contactPort: 5091, expires: 300 });
    assert.ok(reg.ok, `sipsak REGISTER failed (exit ${reg.code}):\n${reg.stdout}\n${reg.stderr}`);

    await page.getByRole('link', { name: 'Location' }).click();
    const table = page.getByTestId('location');
    await table.getByRole('cell', { name: `sip:${SUBSCRIBER}@127.0.0.1:5091`, exact: false }).first().waitFor({ timeout: 15_000 });
  });

  test('a REGISTER whose User-Agent holds <script> is shown as text; no script runs, no dialog opens', async () => {
    const reg = await registerWithUserAgent(px, { user: SUBSCRIBER, password: generated, contactPort: 5092, userAgent: HOSTILE_UA, expires: 300 });
    assert.ok(reg.ok, reg.log.join('\n'));
    await page.getByRole('link', { name: 'Location' }).click();
    await page.getByRole('button', { name: 'Refresh' }).click();
    const table = page.getByTestId('location');
    const cell = table.locator('td', { hasText: 'xss-probe/1.0' });
    await cell.first().waitFor({ timeout: 15_000 });
    assert.equal(await cell.first().textContent(), HOSTILE_UA);
    // the markup is characters in a text node, not elements
    assert.equal(await table.locator('script, img').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.notEqual(await page.title(), 'pwned');
    assert.deepEqual([...dialogs], []); // a copy: the assertion would narrow `dialogs` itself to never[]
    await shot(page, 'web-location.png');

    // remove that one contact (ul.rm_contact), confirmed
    await dismiss();
    await table.getByRole('button', { name: `Remove the contact sip:${SUBSCRIBER}@127.0.0.1:5092 of ${SUBSCRIBER}`, exact: false }).first().click();
    assert.match(await commandShown(), new RegExp(`^sipctl ul rm ${SUBSCRIBER}\\S* sip:${SUBSCRIBER}@127\\.0\\.0\\.1:5092 --yes$`));
    assert.equal(dialogs.length, 1);
    assert.equal(dialogs[0]!.type, 'confirm');
    dialogs.length = 0;
    await table.locator('td', { hasText: 'xss-probe/1.0' }).waitFor({ state: 'detached', timeout: 15_000 });
  });

  test('unban an address from the dashboard; the proxy’s ipban no longer holds it', async () => {
    const set = await px.rpc('htable.seti', ['ipban', BANNED_IP, 1]);
    assert.equal(set.error, undefined, JSON.stringify(set.error));
    assert.match(await htableText(px, 'ipban'), new RegExp(BANNED_IP.replace(/\./g, '\\.')));
    await page.getByRole('link', { name: 'Dashboard' }).click();
    const bans = page.getByTestId('bans');
    // the live feed brings it within a sample or two
    await bans.getByRole('cell', { name: BANNED_IP, exact: true }).waitFor({ timeout: 20_000 });
    await dismiss();
    await bans.getByRole('button', { name: `Unban ${BANNED_IP}` }).click();
    assert.equal(await commandShown(), `sipctl unban ${BANNED_IP}`);
    assert.doesNotMatch(await htableText(px, 'ipban'), new RegExp(BANNED_IP.replace(/\./g, '\\.')));
    assert.equal(dialogs.pop()?.type, 'confirm');
    // by now the chart has a few samples and the node one registered user
    await bans.getByRole('cell', { name: BANNED_IP, exact: true }).waitFor({ state: 'detached', timeout: 20_000 });
    await shot(page, 'web-dashboard.png');
  });

  if (TARGET === 'kamailio') {
    // sipd has no dispatcher module: this part is Kamailio's only
    test('toggle a dispatcher destination; dispatcher.list follows', async () => {
      const add = await sipctl(['dispatcher', 'add', '1', DESTINATION, '--description', 'gateway A', '--reload']);
      assert.equal(add.code, 0, add.stderr);
      const flags = async () => (await px.rpc('dispatcher.list')).result.RECORDS[0].SET.TARGETS[0].DEST.FLAGS as string;
      assert.match(await flags(), /^A/);
      await page.getByRole('link', { name: 'Dispatcher' }).click();
      const table = page.getByTestId('dispatcher');
      await table.getByRole('cell', { name: DESTINATION, exact: true }).waitFor();
      await table.getByRole('button', { name: `Set ${DESTINATION} inactive` }).click();
      assert.equal(await commandShown(), `sipctl dispatcher set-state inactive 1 ${DESTINATION}`);
      assert.match(await flags(), /^I/);
      await shot(page, 'web-dispatcher.png');
      await dismiss();
      await table.getByRole('button', { name: `Set ${DESTINATION} active` }).click();
      assert.equal(await commandShown(), `sipctl dispatcher set-state active 1 ${DESTINATION}`);
      assert.match(await flags(), /^A/);
    });
  }

  test('every page renders for an operator, with no script error and no CSP violation', async () => {
    const pages = ['Dashboard', 'Subscribers', 'Location', 'Address groups & trusted', 'Domains', 'Dispatcher', 'Dialplan', 'Hash tables', 'Calls', 'SIM cards'];
    for (const name of pages) {
      await page.getByRole('link', { name, exact: true }).click();
      await page.locator('main h1').waitFor();
      await page.waitForFunction(() => ![...document.querySelectorAll('main p')].some((p) => p.textContent === 'Loading…'), undefined, { timeout: 15_000 });
      assert.equal(await page.getByRole('link', { name, exact: true }).getAttribute('aria-current'), 'page');
      // every table has a caption and column headers (uPlot's legend is a table of its own)
      for (const t of await page.locator('main table:not(.u-legend)').all()) {
        assert.ok(((await t.locator('caption').textContent()) ?? '').trim() !== '', `${name}: a table without caption`);
        assert.ok((await t.locator('thead th[scope=col]').count()) > 0, `${name}: a table without headers`);
      }
      // every input has a label
      const unlabelled = await page.locator('main input, main select').evaluateAll((els) => els.filter((e) => !(e as HTMLInputElement).labels?.length).map((e) => e.id || e.outerHTML));
      assert.deepEqual(unlabelled, [], name);
      await shot(page, `all-${name.replace(/\W+/g, '-').toLowerCase()}.png`);
    }
    await page.getByRole('link', { name: 'Hash tables' }).click();
    await page.getByRole('button', { name: 'Show the entries of ipban' }).click();
    await page.getByTestId('htable-entries').waitFor();
    await page.getByRole('link', { name: 'Dialplan' }).click();
    await page.getByLabel('Dialplan id').fill('1');
    await page.getByLabel('Number or string').fill('0049301234');
    await page.getByRole('button', { name: 'Translate' }).click();
    await page.getByTestId('notice').waitFor(); // no rule: the proxy's one-line answer
    assert.deepEqual(scriptErrors, []);
  });

  test('change a subscriber’s password and remove it, each confirmed by the CLI', async () => {
    await page.getByRole('link', { name: 'Subscribers' }).click();
    await page.getByLabel('Address of record').fill('webu2@127.0.0.1');
    await page.getByLabel('Password', { exact: true }).fill('Given-password-2b');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    assert.equal(await commandShown(), 'sipctl add webu2@127.0.0.1');
    assert.equal(await page.getByTestId('generated-password').count(), 0, 'a given password is not shown back');
    const table = page.getByTestId('subscribers');
    await dismiss();
    await table.getByRole('button', { name: 'Change the password of webu2@127.0.0.1' }).click();
    await table.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('generated-password').waitFor();
    assert.equal(await commandShown(), 'sipctl passwd webu2@127.0.0.1 --generate');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await dismiss();
    await table.getByRole('button', { name: 'Remove webu2@127.0.0.1' }).click();
    assert.equal(await commandShown(), 'sipctl rm webu2@127.0.0.1 --yes');
    assert.equal(dialogs.pop()?.type, 'confirm');
    await table.getByRole('cell', { name: 'webu2', exact: true }).waitFor({ state: 'detached' });
    const gone = await sipctl(['show', 'webu2@127.0.0.1']);
    assert.equal(gone.code, 3, gone.stderr);
  });

  test('import a SIM file with a progress bar; the list shows the keys masked', async () => {
    await page.getByRole('link', { name: 'SIM cards' }).click();
    await page.getByLabel('File', { exact: true }).setInputFiles(join(REPO, 'test', 'fixtures', 'sim', 'sims-opc.csv'));
    await page.getByLabel('Format', { exact: true }).selectOption('csv');
    await page.getByRole('button', { name: 'Import' }).click();
    assert.equal(await commandShown(), 'sipctl sim import FILE --format csv');
    const progress = page.getByTestId('sim-import');
    await progress.getByText(/2 of 2 imported, done/).waitFor({ timeout: 20_000 });
    assert.equal(await progress.locator('progress').getAttribute('value'), '2');
    const sims = page.getByTestId('sims');
    await sims.getByRole('cell', { name: '001010000000001', exact: true }).waitFor();
    const text = (await sims.textContent()) ?? '';
    // Ki and OPc of the file's first row never reach the page
    assert.doesNotMatch(text.toLowerCase(), /05fa9808d0b21d95dfb9a45d5e4ff46d|1b9c64eedf6ad64b8631eba7bf0211de/);
  });

  test('domains and address groups: add from the form and remove, each with its sipctl command', async () => {
    await page.getByRole('link', { name: 'Domains' }).click();
    await page.getByLabel('Domain', { exact: true }).fill('Web.Example.com');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    assert.equal(await commandShown(), 'sipctl domain add web.example.com');
    const domains = page.getByTestId('domains');
    await domains.getByRole('cell', { name: 'web.example.com', exact: true }).waitFor();
    await dismiss();
    await domains.getByRole('button', { name: 'Remove web.example.com' }).click();
    assert.equal(await commandShown(), 'sipctl domain rm web.example.com --yes');
    assert.equal(dialogs.pop()?.type, 'confirm');
    await domains.getByRole('cell', { name: 'web.example.com', exact: true }).waitFor({ state: 'detached' });

    await page.getByRole('link', { name: 'Address groups & trusted' }).click();
    await page.getByLabel('Group', { exact: true }).fill('7');
    await page.getByLabel('Address', { exact: true }).fill('198.51.100.0');
    await page.getByLabel('Mask', { exact: true }).fill('24');
    await page.getByRole('form', { name: 'Add an address' }).getByRole('button', { name: 'Add' }).click();
    assert.match(await commandShown(), /^sipctl address add 7 198\.51\.100\.0 24 0$/);
    const show = await sipctl(['address', 'show', '--json']);
    assert.deepEqual(JSON.parse(show.stdout).map((e: { grp: number; ip: string; mask: number }) => [e.grp, e.ip, e.mask]), [[7, '198.51.100.0', 24]]);
    await dismiss();
    await page.getByRole('button', { name: 'Reload proxies' }).click();
    assert.equal(await commandShown(), 'sipctl address reload');
    await dismiss();
    await page.getByTestId('address').getByRole('button', { name: 'Remove 198.51.100.0' }).click();
    assert.match(await commandShown(), /^sipctl address rm 7 198\.51\.100\.0 --mask 24 --port 0 --yes$/);
    assert.equal(dialogs.pop()?.type, 'confirm');
    assert.deepEqual(JSON.parse((await sipctl(['address', 'show', '--json'])).stdout), []);
  });

  if (TARGET === 'sipd') {
    // the lab Kamailio loads no dialog module (no dlg.list): active calls are sipd's here
    test('end an active call from the calls page: both parties get a BYE', async () => {
      requireTools('sipp');
      const PW = 'Call-party-pw-9876';
      for (const u of ['callera', 'calleeb']) {
        const r = await sipctl(['add', `${u}@127.0.0.1`, '--password-stdin'], { input: PW });
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /warning/, 'sipd reloaded its credentials without a warning');
      }
      const [aPort, bPort] = [await freeSipPort(), await freeSipPort()];
      const reg = await sippRegisterFrom({ proxyPort: px.sipPort, user: 'calleeb', password: PW, localPort: bPort });
      assert.equal(reg.code, 0, reg.output.slice(-1500));
      const uas = sipp({ scenario: scenario('callee.xml'), localPort: bPort, timeoutMs: 40_000 });
      await settle();
      const uac = sipp({ scenario: scenario('caller-held.xml', { USER: 'callera' }), remote: `127.0.0.1:${px.sipPort}`, localPort: aPort, service: 'calleeb', user: 'callera', password: PW, timeoutMs: 40_000 });
      try {
        await page.getByRole('link', { name: 'Calls' }).click();
        const table = page.getByTestId('active-calls');
        const end = table.getByRole('button', { name: /^End the call / });
        for (let i = 0; i < 40 && (await end.count()) === 0; i++) {
          await new Promise((r) => setTimeout(r, 250));
          await page.getByRole('button', { name: 'Refresh' }).click();
        }
        const label = (await end.first().getAttribute('aria-label')) ?? '';
        const callId = label.replace(/^End the call /, '');
        await dismiss();
        await end.first().click();
        assert.match(callId, /^[A-Za-z0-9_@%+=:,./-]+$/, 'sipp Call-IDs need no shell quoting');
        assert.equal(await commandShown(), `sipctl calls end ${callId} --yes`);
        assert.equal(dialogs.pop()?.type, 'confirm');
        const [a, b] = await Promise.all([uac.done, uas.done]);
        assert.equal(a.code, 0, `caller: ${a.output.slice(-1500)}`);
        assert.equal(b.code, 0, `callee: ${b.output.slice(-1500)}`);
        await page.getByRole('button', { name: 'Refresh' }).click();
        await end.first().waitFor({ state: 'detached', timeout: 10_000 });
      } finally {
        uac.stop();
        uas.stop();
      }
    });
  }

  test('a change without the CSRF token is refused (403 CSRF_TOKEN) and changes nothing', async () => {
    const r = await page.evaluate(async () => {
      const res = await fetch('/api/subscribers', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ aor: 'csrf@127.0.0.1' }) });
      return { status: res.status, body: await res.json() };
    });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'CSRF_TOKEN');
    const list = await page.evaluate(async () => (await (await fetch('/api/subscribers?q=csrf')).json()).data);
    assert.equal(list.total, 0);
  });

  test('375 px wide: the navigation collapses behind Menu and opens from the keyboard', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      const nav = page.getByRole('navigation', { name: 'sections' });
      assert.equal(await nav.isVisible(), false);
      const menu = page.getByRole('button', { name: 'Menu' });
      await menu.focus();
      await page.keyboard.press('Enter');
      assert.equal(await menu.getAttribute('aria-expanded'), 'true');
      // the focus is visible: Tab from Menu lands on a control with an outline
      await page.keyboard.press('Tab');
      const ring = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const st = getComputedStyle(el);
        return { tag: el.tagName, style: st.outlineStyle, width: parseFloat(st.outlineWidth) };
      });
      assert.ok(ring.style !== 'none' && ring.width >= 2, JSON.stringify(ring));
      await menu.focus();
      await nav.getByRole('link', { name: 'Subscribers' }).waitFor();
      await nav.getByRole('link', { name: 'Subscribers' }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Subscribers', level: 1 }).waitFor();
      assert.equal(await nav.isVisible(), false, 'the menu closes after a choice');
      await shot(page, 'narrow-subscribers.png');
      // no sideways scrolling of the page itself
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  test('a viewer sees no change buttons, and the API refuses its changes (403 FORBIDDEN)', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('User').waitFor();
    await loginWithKeyboard(page, web.url, VIEWER.name, VIEWER.password);
    await page.getByTestId('who').getByText('viewer').waitFor();
    await page.getByText('Read only: your account has the viewer role.').waitFor();
    for (const [link, table] of [['Subscribers', 'subscribers'], ['Location', 'location'], ['Dispatcher', 'dispatcher'], ['Domains', 'domains'], ['Calls', 'active-calls'], ['Address groups & trusted', 'address']] as const) {
      await page.getByRole('link', { name: link }).click();
      await page.getByTestId(table).waitFor();
      await page.getByRole('heading', { level: 1 }).waitFor();
      const buttons = await page.locator('main form button[type=submit], main td.actions button').allTextContents();
      // the only forms a viewer gets are searches and filters
      const changes = buttons.filter((b) => !['Search', 'Filter'].includes(b.trim()));
      assert.deepEqual(changes, [], `${link}: ${buttons.join(', ')}`);
    }
    await page.getByTestId('subscribers').waitFor({ state: 'detached' }).catch(() => undefined);
    await page.getByRole('link', { name: 'Subscribers' }).click();
    await page.getByTestId('subscribers').getByRole('cell', { name: SUBSCRIBER, exact: true }).waitFor();
    const r = await page.evaluate(async (aor) => {
      const s = await (await fetch('/api/session')).json();
      const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': s.data.csrf };
      const add = await fetch('/api/subscribers', { method: 'POST', headers, body: JSON.stringify({ aor: 'viewer-made@127.0.0.1' }) });
      const rm = await fetch(`/api/subscribers/${encodeURIComponent(aor)}`, { method: 'DELETE', headers });
      return { add: add.status, addCode: (await add.json()).error?.code, rm: rm.status, rmCode: (await rm.json()).error?.code };
    }, `${SUBSCRIBER}@127.0.0.1`);
    assert.deepEqual(r, { add: 403, addCode: 'FORBIDDEN', rm: 403, rmCode: 'FORBIDDEN' });
    const still = await sipctl(['show', `${SUBSCRIBER}@127.0.0.1`, '--json']);
    assert.equal(still.code, 0, still.stderr);
  });

  test('wrong passwords lock the login: the third is answered 429, then even the right password is refused', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('User').waitFor();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = page.waitForResponse((res) => res.url().endsWith('/api/login'));
      await loginWithKeyboard(page, web.url, LOCKED.name, i < 3 ? `wrong-password-${i}` : LOCKED.password);
      statuses.push((await answer).status());
      await page.getByTestId('login-error').waitFor();
    }
    // the failure that reaches the limit (3, sipd's max_failures) already answers 429
    assert.deepEqual(statuses.slice(0, 3), [401, 401, 429]);
    assert.equal(statuses[3], 429, 'the right password is refused while locked');
    assert.match((await page.getByTestId('login-error').textContent()) ?? '', /\S/);
    assert.equal(await page.getByRole('heading', { name: 'Dashboard' }).count(), 0);
    assert.deepEqual(scriptErrors, []);
  });
});
