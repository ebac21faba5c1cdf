// Real-browser test of superdynamic-server's sign-in + consent pages.
//
// Starts the server binary (in-memory database, consent NOT auto-approved),
// registers a public client, and drives Debian's chromium through
// playwright-core: sign in as demo/demo, screenshot the consent page, click
// Approve (run 1) or Deny (run 2), and check what reaches the client's
// loopback redirect URI. Screenshots go to ./artifacts/.
//
//   cargo build -p superdynamic-server
//   cd server-tests && npm ci && npm test
//
// Env: SUPERDYNAMIC_SERVER_BIN (default ../target/debug/superdynamic-server),
//      CHROMIUM (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const serverBin = process.env.SUPERDYNAMIC_SERVER_BIN ?? resolve(here, '../target/debug/superdynamic-server');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const b64url = (buf) => buf.toString('base64url');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/** A free loopback port (listen on 0, read it, close). */
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

async function startServer() {
  const port = await freePort();
  const child = spawn(serverBin, ['--port', String(port), '--bind', '127.0.0.1', '--db', ':memory:'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return { child, base };
    } catch {
      /* not up yet */
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('the server did not start');
}

/** The client's redirect URI: a loopback listener that records the callback. */
async function startCallback() {
  let resolveHit;
  const hit = new Promise((r) => (resolveHit = r));
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Callback</title><p>Back at the client.</p>');
    if (url.pathname === '/callback') resolveHit(url.searchParams);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { server, redirectUri: `http://127.0.0.1:${port}/callback`, hit };
}

async function runFlow(base, decision) {
  const callback = await startCallback();
  const userDataDir = mkdtempSync(join(tmpdir(), 'superdynamic-chromium-'));
  let context;
  try {
    const reg = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: `Browser Test (${decision})`,
        redirect_uris: [callback.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
      }),
    });
    assert(reg.status === 201, `registration: ${reg.status}`);
    const { client_id: clientId } = await reg.json();

    const verifier = b64url(randomBytes(32));
    const challenge = b64url(createHash('sha256').update(verifier).digest());
    const state = b64url(randomBytes(16));
    const authorize = new URL(`${base}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: callback.redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'mcp:tools files:read',
      state,
      resource: `${base}/mcp`,
    })) {
      authorize.searchParams.set(k, v);
    }

    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(authorize.href);

    // Sign in.
    assert((await page.title()) === 'Sign in', `expected the sign-in page, got ${await page.title()}`);
    await page.screenshot({ path: join(artifacts, `sign-in-${decision}.png`), fullPage: true });
    await page.fill('#username', 'demo');
    await page.fill('#password', 'demo');
    await Promise.all([page.waitForURL(/\/authorize\?/), page.click('button[type=submit]')]);

    // Consent.
    assert((await page.title()) === 'Allow access?', `expected the consent page, got ${await page.title()}`);
    const text = await page.textContent('body');
    assert(text.includes(`Browser Test (${decision})`), 'the consent page names the client');
    assert(text.includes('127.0.0.1'), 'the consent page shows the redirect host');
    assert(text.includes('demo'), 'the consent page names the signed-in user');
    await page.screenshot({ path: join(artifacts, `consent-${decision}.png`), fullPage: true });
    await page.click(`button[value=${decision}]`);

    const params = await Promise.race([
      callback.hit,
      sleep(10_000).then(() => {
        throw new Error('no callback within 10 s');
      }),
    ]);
    assert(params.get('state') === state, 'state round-trips');
    assert(params.get('iss') === base, 'iss (RFC 9207) is the issuer');
    if (decision === 'approve') {
      const code = params.get('code');
      assert(code, 'a code after Approve');
      const token = await fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: callback.redirectUri,
          code_verifier: verifier,
          client_id: clientId,
          resource: `${base}/mcp`,
        }),
      });
      assert(token.status === 200, `token exchange: ${token.status}`);
      const body = await token.json();
      assert(body.token_type === 'Bearer' && body.access_token && body.refresh_token, 'tokens issued');
      assert(body.scope === 'mcp:tools files:read', `scope: ${body.scope}`);
    } else {
      assert(params.get('error') === 'access_denied', `error after Deny: ${params.get('error')}`);
      assert(!params.get('code'), 'no code after Deny');
    }
  } finally {
    if (context) await context.close();
    await new Promise((r) => callback.server.close(r));
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

const { child, base } = await startServer();
let passed = 0;
let failed = 0;
try {
  for (const decision of ['approve', 'deny']) {
    try {
      await runFlow(base, decision);
      console.log(`ok - consent flow: ${decision}`);
      passed++;
    } catch (e) {
      console.log(`not ok - consent flow: ${decision}: ${e.stack ?? e}`);
      failed++;
    }
  }
} finally {
  child.kill('SIGKILL');
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
