// Headless Chromium for the page tests: Debian's `chromium` driven by playwright-core (no browser
// download), with a fresh user-data dir per launch and the flags that keep it off the network (the
// sandbox needs namespaces that containers often lack). Skipped where no Chromium is installed, unless
// TESSERA_TEST_BROWSER=required (set by .ci/run): then a missing browser fails the test.
import { existsSync } from 'node:fs';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env['TESSERA_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
export const REQUIRE_BROWSER = process.env['TESSERA_TEST_BROWSER'] === 'required';

/** The `skip` option of a browser test: false to run, or why it cannot. */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM_PATH) || REQUIRE_BROWSER) return false;
  return `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set TESSERA_TEST_CHROMIUM; TESSERA_TEST_BROWSER=required makes this a failure)`;
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // Without these Chromium dials out at start (component updates, sync, safe browsing): refused here.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser with its own empty profile in `userDataDir`, at the given window size. */
export async function launchChromium(
  userDataDir: string,
  viewport: { width: number; height: number },
): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`TESSERA_TEST_BROWSER=required but there is no Chromium at ${CHROMIUM_PATH}`);
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: FLAGS,
    viewport,
    timeout: 90_000,
  });
}
