// A BROWSER program for `superdynamic login`: the CLI runs it with the authorization URL as its only argument
// (no shell). It drives headless Chromium like a person would: sign in as demo/demo, look at the consent page,
// click the button named by SUPERDYNAMIC_TEST_DECISION (approve | deny), and wait for the CLI's loopback page.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const url = process.argv[2];
const decision = process.env.SUPERDYNAMIC_TEST_DECISION ?? 'approve';
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const userDataDir = mkdtempSync(join(tmpdir(), 'sd-browser-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  await page.fill('#username', 'demo');
  await page.fill('#password', 'demo');
  await Promise.all([page.waitForURL(/\/authorize\?/), page.click('button[type=submit]')]);
  await page.screenshot({ path: join(artifacts, `cli-consent-${decision}.png`), fullPage: true });
  await Promise.all([page.waitForURL(/127\.0\.0\.1:\d+\/callback/), page.click(`button[value=${decision}]`)]);
  await page.screenshot({ path: join(artifacts, `cli-callback-${decision}.png`), fullPage: true });
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
