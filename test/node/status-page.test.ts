// The status page in headless Chromium, against two real nodes over mTLS. A peers with B and B with A;
// facts written on B reach A. The page on A, at phone width then desktop width: it asks for a key (and
// fetches nothing before), then shows this node, B with its state and lag, and the rejections of the last
// hour (one this test caused). B's certificate is then reissued to expire in two hours and reloaded: the
// page, never reloaded, shows B critical on the certificate timeline. Throughout, the CSP header is
// there, the console holds no CSP violation or error, and nothing is requested from another origin.
// Screenshots go to test-output/status/.
//
// Both nodes pull every second and close idle connections after 200 ms, so every pull is a new TLS
// handshake: A sees B's reissued certificate at the next pull, whichever side dials.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { STATUS_CSP } from '../../src/node/features/status/assets.ts';
import { browserSkip, launchChromium } from '../support/browser.ts';
import { fact } from '../support/node-process.ts';
import { createTestCa, type TestCa } from '../support/pki.ts';
import { replaceFile, until } from '../support/reload.ts';
import { addAndApproveUrl, startTlsNode, type TlsNode } from '../support/tls-node.ts';

const OUTPUT = fileURLToPath(new URL('../../test-output/status/', import.meta.url));
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const FAST = {
  TESSERA_FEDERATION_PULL_INTERVAL_S: '1',
  TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS: '200',
};

describe('status page in headless Chromium', { skip: browserSkip(), timeout: 180_000 }, () => {
  let root: string | undefined;
  let ca: TestCa;
  let a: TlsNode;
  let b: TlsNode;
  let browser: BrowserContext;
  let page: Page;
  let readKey: string;
  const consoleProblems: string[] = [];
  const foreignRequests: string[] = [];
  const dataRequests: { authorized: boolean }[] = [];

  const peerCard = () => page.locator(`[data-peer="${b.entityUri}"]`);
  const timelineEntry = (kind: string, name: string) =>
    page.locator(`#certificates li[data-kind="${kind}"][data-name="${name}"]`);
  const shot = (name: string) => page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-status-page-'));
    await mkdir(OUTPUT, { recursive: true });
    ca = await createTestCa('Status Page CA');
    // The browser starts while the nodes do: on a busy machine its launch is the slow part.
    const launching = launchChromium(join(root, 'chromium-profile'), PHONE);
    // Its failure (no browser where one is required) is reported where it is awaited, below.
    launching.catch(() => undefined);
    [a, b] = await Promise.all([
      startTlsNode({ name: 'a', ca, root, env: FAST }),
      startTlsNode({ name: 'b', ca, root, env: FAST }),
    ]);
    await addAndApproveUrl(a, b.node.federationUrl);
    await addAndApproveUrl(b, a.node.federationUrl);
    for (let i = 0; i < 3; i++) {
      const written = await b.api('POST', '/v1/facts', fact(`test:status/${i}`));
      assert.equal(written.status, 201, JSON.stringify(written.body));
    }
    await until('A holds the facts written on B', async () => {
      const { body } = await a.api<{ total: number }>('GET', '/v1/facts?relation=test:seq&limit=10');
      return body.total === 3;
    });
    const key = await a.api<{ key: string }>('POST', '/v1/admin/api-keys', {
      entity_uri: 'spiffe://test.example/operator/status',
      permissions: ['read'],
    });
    assert.equal(key.status, 201);
    readKey = key.body.key;
    // A refusal for the rejections section: a request without a key.
    const refused = await fetch(new URL('/v1/facts', a.node.apiUrl));
    assert.equal(refused.status, 401);

    browser = await launching;
    page = browser.pages()[0] ?? (await browser.newPage());
    const origin = new URL(a.node.apiUrl).origin;
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
        consoleProblems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => consoleProblems.push(`pageerror: ${error.message}`));
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== origin) foreignRequests.push(request.url());
      if (url.pathname === '/status.json')
        dataRequests.push({ authorized: request.headers()['authorization'] === `Bearer ${readKey}` });
    });
    // Any CSP violation in the page is recorded where the test can read it (the event fires in the page).
    // (Page-side code is given as strings: this project type-checks without the DOM library.)
    await page.addInitScript(`
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) =>
        window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));
    `);
  });

  after(async () => {
    await browser?.close();
    await Promise.allSettled([a?.close(), b?.close()]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('phone width: the page asks for a key, then shows this node, the peer with its state and lag, and the rejections', async () => {
    const response = await page.goto(new URL('/status?refresh=1', a.node.apiUrl).href);
    assert.equal(response?.status(), 200);
    assert.equal(response?.headers()['content-security-policy'], STATUS_CSP);
    await page.locator('#key-form').waitFor({ state: 'visible' });
    assert.equal(dataRequests.length, 0, 'no data is fetched before a key is given');
    await shot('phone-key');
    await page.locator('#key-input').fill(readKey);
    await page.locator('#key-form button[type=submit]').click();

    await page.locator('#status').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#node-name').textContent(), a.entityUri);
    assert.match((await page.locator('#node').textContent()) ?? '', /mutual TLS/);
    // The peer: approved, pulled cleanly, caught up (lag in seconds and in facts).
    await peerCard().waitFor();
    await until('B shown as ok with its lag', async () =>
      (await peerCard().getAttribute('data-state')) === 'ok' ? true : undefined,
    );
    const lag = (await peerCard().locator('[data-field="lag"]').textContent()) ?? '';
    assert.match(lag, /^\d+ (s|min)( \d+ s)? · 0 facts behind$/, `lag shown as "${lag}"`);
    assert.match(
      (await peerCard().locator('[data-field="last-success"]').textContent()) ?? '',
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(\d+ s ago\)$/,
    );
    // Both nodes share this machine's clock: in step, within the estimate's uncertainty.
    assert.match(
      (await peerCard().locator('[data-field="clock"]').textContent()) ?? '',
      /^\d+\.\d s (ahead|behind|in step) \(± \d+\.\d s, (HTTP Date|token iat) \d+ s ago\) $/,
    );
    // A approved B before B approved A: A's first pull may have been refused, and the page keeps saying so.
    assert.match(
      (await peerCard().locator('[data-field="last-error"]').textContent()) ?? '',
      /^(none|peer_call_failed:peer_not_approved \d+ s ago: .* is not an approved peer of this node)$/,
    );
    // The refusal of the request without a key, by reason.
    const missing = page.locator('#rejections tr[data-source="api_auth"][data-reason="missing"]');
    await missing.waitFor();
    assert.equal(await missing.locator('td.count').textContent(), '1');
    // Readable on a phone: nothing wider than the window.
    assert.equal(
      await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'),
      true,
      'no horizontal scrolling at 390 px',
    );
    assert.ok(
      dataRequests.every((r) => r.authorized),
      'every data request carries the key',
    );
    await shot('phone');
  });

  test('it refreshes itself: new data without a reload', async () => {
    const freshness = page.locator('#freshness');
    const first = await freshness.getAttribute('data-generated-at');
    // Polled from here: a predicate evaluated in the page would need `eval`, which the page's CSP forbids.
    await until('a newer status on the page', async () =>
      (await freshness.getAttribute('data-generated-at')) !== first ? true : undefined,
    );
    assert.notEqual(await freshness.getAttribute('data-generated-at'), first);
  });

  test('desktop width: every section, and the certificate timeline with our leaf, our CA and the peer', async () => {
    await page.setViewportSize(DESKTOP);
    for (const section of ['node', 'peers', 'replication', 'certificates', 'rejections', 'quotas'])
      assert.equal(await page.locator(`#${section}`).isVisible(), true, `${section} shown`);
    assert.equal(await timelineEntry('leaf', 'this node').getAttribute('data-level'), 'ok');
    assert.equal(await timelineEntry('ca', 'CN=Status Page CA').getAttribute('data-level'), 'ok');
    await timelineEntry('peer', b.entityUri).waitFor();
    assert.equal(await timelineEntry('peer', b.entityUri).getAttribute('data-level'), 'ok');
    await shot('desktop');
  });

  test("the peer's certificate reissued to expire in two hours: critical on the timeline, without a reload", async () => {
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    const soon = new Date(Date.now() + 2 * 3_600_000);
    const leaf = await ca.issue('b', { uris: [b.entityUri], notAfter: soon });
    await replaceFile(b.tls.keyPath, leaf.keyPem, 0o600);
    await replaceFile(b.tls.certPath, leaf.chainPem);
    await b.node.reload();
    const entry = timelineEntry('peer', b.entityUri);
    await page.waitForSelector(
      `#certificates li[data-kind="peer"][data-name="${b.entityUri}"][data-level="critical"]`,
      { timeout: 30_000 },
    );
    assert.match((await entry.textContent()) ?? '', /critical/);
    // The shortest-lived certificate comes first on the timeline.
    assert.equal(await page.locator('#certificates li').first().getAttribute('data-name'), b.entityUri);
    assert.match((await peerCard().locator('[data-field="certificate"]').textContent()) ?? '', /critical/);
    assert.deepEqual(navigations, [], 'the page was not reloaded');
    await shot('desktop-peer-expiring');
    await page.setViewportSize(PHONE);
    await shot('phone-peer-expiring');
  });

  test('the CSP held: no violation, no console error, nothing fetched from another origin', async () => {
    const violations = await page.evaluate('window.cspViolations');
    assert.deepEqual(violations, []);
    assert.deepEqual(consoleProblems, []);
    assert.deepEqual(foreignRequests, []);
  });
});
