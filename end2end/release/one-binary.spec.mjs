// Ship it (issue 33): the release binary, copied alone into an empty directory and started
// with only DATABASE_URL and a free port, serves a dashboard that hydrates with no failed
// request; the wasm comes compressed and content-hashed with a year's immutable cache (the
// admin page's split-off chunk too, and it works), and a second visit fetches no asset again. Then it measures a first visit (bytes and time until
// every panel is filled) at 10 Mbit/s and 40 ms round trips, with and without compression,
// and prints the table the README quotes.
import { test, expect } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const source = process.env.UA_RELEASE_BINARY;
const EMAIL = 'release-admin@example.com';
const PASSWORD = 'release-password-123';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let dir;
let server;
let base;

test.beforeAll(async () => {
  expect(source, 'UA_RELEASE_BINARY names the released binary').toBeTruthy();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ua-one-binary-'));
  const binary = path.join(dir, 'usage-analytics');
  fs.copyFileSync(source, binary);
  fs.chmodSync(binary, 0o755);
  expect(fs.readdirSync(dir)).toEqual(['usage-analytics']);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Only these: no LEPTOS_SITE_ROOT, no site directory, a clean environment.
  const env = { PATH: '/usr/bin:/bin', DATABASE_URL: `sqlite://${dir}/ua.db`, LEPTOS_SITE_ADDR: `127.0.0.1:${port}` };
  server = spawn(binary, ['serve'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  let ready = false;
  for (let i = 0; i < 120 && !ready; i++) {
    try { ready = (await fetch(`${base}/readyz`)).ok; } catch { /* not listening yet */ }
    if (!ready) await new Promise((r) => setTimeout(r, 500));
  }
  expect(ready, 'the binary answered /readyz').toBe(true);
  const cli = (...args) => execFileSync(binary, args, { cwd: dir, env: { ...env, UA_PASSWORD: PASSWORD }, encoding: 'utf8' });
  cli('users', 'create', '--email', EMAIL, '--role', 'admin');
  cli('demo', '--events', '20000', '--days', '30');
});

test.afterAll(async () => {
  server?.kill('SIGTERM');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function signIn(page) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
}

/** Waits until the page is hydrated and no panel says "Loading…". */
async function filled(page) {
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests').locator('.value')).not.toHaveText('0');
  await expect(page.locator('.loading')).toHaveCount(0);
}

test('copied alone, it serves a hydrating dashboard with compressed, immutable, hashed assets', async ({ page }) => {
  const failed = [];
  page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.url()}: ${r.status()}`); });
  // Public files come from the binary too, also before signing in (the log-in page's icon).
  const icon = await page.request.get(`${base}/favicon.svg`, { maxRedirects: 0 });
  expect(icon.status()).toBe(200);
  expect(icon.headers()['content-type']).toBe('image/svg+xml');
  const wasm = page.waitForResponse((r) => r.url().endsWith('.wasm'));
  await signIn(page);
  await filled(page);
  const res = await wasm;
  expect(res.url()).toMatch(/\/pkg\/usage-analytics\.[0-9a-f]{16}\.wasm$/);
  const headers = res.headers();
  expect(['br', 'gzip']).toContain(headers['content-encoding']);
  expect(headers['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(headers['vary']).toMatch(/accept-encoding/i);
  expect(failed).toEqual([]);
  // The admin page's code is a chunk of its own (issue 32), fetched when an admin opens it:
  // under a hashed, immutable name, importing the running module (not a second copy), so the
  // page works (Create project makes a project).
  const chunk = page.waitForResponse((r) => /\/pkg\/split_.*\.wasm$/.test(r.url()));
  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  await page.waitForURL(`${base}/admin`);
  const chunkRes = await chunk;
  expect(chunkRes.url()).toMatch(/\/pkg\/split_\w+\.[0-9a-f]{16}\.wasm$/);
  expect(chunkRes.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  const project = `Release project ${Date.now()}`;
  await page.getByLabel('New project').fill(project);
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByTestId('project-list')).toContainText(project);
  expect(failed).toEqual([]);
  await page.goto(`${base}/`);
  await filled(page);

  // The page itself is never cached that way (it names the assets of the running release).
  const doc = await page.request.get(`${base}/`);
  expect(doc.status()).toBe(200);
  expect(doc.headers()['content-type']).toMatch(/text\/html/);
  expect(doc.headers()['cache-control'] ?? '').not.toMatch(/immutable|max-age=[1-9]/);

  // A second visit: every asset comes from the browser's cache, none from the server.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const fetched = [];
  const cached = new Set();
  cdp.on('Network.requestServedFromCache', (e) => cached.add(e.requestId));
  cdp.on('Network.responseReceived', (e) => {
    if (e.response.url.includes('/pkg/') && !e.response.fromDiskCache && !cached.has(e.requestId)) {
      fetched.push(`${e.response.url} ${e.response.status}`);
    }
  });
  await page.goto(`${base}/`);
  await filled(page);
  expect(fetched).toEqual([]);
  expect(failed).toEqual([]);
});

test('first visit at 10 Mbit/s and 40 ms round trips: bytes and time until every panel is filled', async ({ browser }) => {
  const rows = [];
  for (const [label, headers] of [['compressed (br/gzip)', {}], ['uncompressed (Accept-Encoding: identity)', { 'Accept-Encoding': 'identity' }]]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.clearBrowserCache');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 40, downloadThroughput: 10_000_000 / 8, uploadThroughput: 10_000_000 / 8,
    });
    if (headers['Accept-Encoding']) await cdp.send('Network.setExtraHTTPHeaders', { headers });
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
    const start = Date.now();
    await page.goto(`${base}/`);
    await filled(page);
    const ms = Date.now() - start;
    rows.push({ label, kb: Math.round(bytes / 1024), ms });
    await context.close();
  }
  console.log('\n| first visit to the dashboard (10 Mbit/s, 40 ms) | bytes transferred | time until every panel is filled |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.label} | ${r.kb} KB | ${r.ms} ms |`);
  // Compression must at least halve what a first visit transfers (the wasm alone shrinks ~3x).
  expect(rows[0].kb * 2).toBeLessThan(rows[1].kb);
});
