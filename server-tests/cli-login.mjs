// The real `superdynamic login` against the reference server, with a BROWSER program that drives headless
// Chromium through sign-in and consent: Approve ends signed in, Deny ends with the denial reported.
// Env: SUPERDYNAMIC_SERVER_BIN, SUPERDYNAMIC_BIN (defaults: ../target/debug/…), CHROMIUM (/usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const serverBin = process.env.SUPERDYNAMIC_SERVER_BIN ?? resolve(here, '../target/debug/superdynamic-server');
const cliBin = process.env.SUPERDYNAMIC_BIN ?? resolve(here, '../target/debug/superdynamic');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

function run(cmd, args, env) {
  return new Promise((res) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

const port = await freePort();
const server = spawn(serverBin, ['--port', String(port), '--bind', '127.0.0.1', '--db', ':memory:'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, RUST_LOG: 'warn' },
});
const mcp = `http://127.0.0.1:${port}/mcp`;
let passed = 0;
let failed = 0;
const dir = mkdtempSync(join(tmpdir(), 'sd-cli-login-'));
try {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      /* not up yet */
    }
    await sleep(50);
  }
  for (const [decision, expectCode, expectText] of [
    ['approve', 0, 'Signed in to'],
    ['deny', 3, 'access_denied'],
  ]) {
    const result = await run(cliBin, ['login', mcp, '--auth-timeout', '45'], {
      BROWSER: join(here, 'browser.sh'),
      SUPERDYNAMIC_TEST_DECISION: decision,
      SUPERDYNAMIC_STORE: 'file',
      SUPERDYNAMIC_STORE_PATH: join(dir, `${decision}.json`),
    });
    const output = result.stdout + result.stderr;
    if (result.code === expectCode && output.includes(expectText)) {
      passed++;
      console.log(`ok - superdynamic login with a browser: ${decision}`);
    } else {
      failed++;
      console.log(`not ok - superdynamic login with a browser: ${decision} (exit ${result.code})\n${output}`);
    }
  }
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
