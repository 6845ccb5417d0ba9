// Live mode: the open dashboard follows new events by itself, without a reload.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const binary = path.resolve(process.cwd(), '..', 'target', 'release', 'usage-analytics');
const cli = (...args) => execFileSync(binary, args, { encoding: 'utf8', env: process.env }).trim();

test('new events appear in the open dashboard by themselves, unless Live is off', async ({ page, request }) => {
  const project = `Live ${Date.now()}`;
  cli('projects', 'create', project);
  const key = cli('keys', 'create', '--project', project).split('\n').pop();
  const send = async (n) => {
    const now = Date.now();
    const events = Array.from({ length: n }, (_, i) => ({
      timestamp: new Date(now - i * 1000).toISOString(), model: 'Live Model',
      input_tokens: 3, output_tokens: 3,
    }));
    const res = await request.post('/api/v1/events', { headers: { Authorization: `Bearer ${key}` }, data: events });
    expect(res.status()).toBe(200);
  };
  await send(2);
  await page.goto(`/?period=24h&tz=UTC&project=${encodeURIComponent(project)}`);
  const total = page.getByTestId('total-requests').locator('.value');
  await expect(total).toHaveText('2');
  await page.evaluate(() => { window.__stillHere = true; });
  await page.waitForTimeout(500); // the event stream connects after hydration

  await send(9);
  await expect(total).toHaveText('11', { timeout: 4_000 });
  expect(await page.evaluate(() => window.__stillHere)).toBe(true);

  await page.getByRole('checkbox', { name: 'Live', exact: true }).uncheck();
  await send(4);
  await page.waitForTimeout(2_500);
  await expect(total).toHaveText('11');
});
