// Live mode: the open dashboard follows new events by itself, without a reload.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

test('new events appear in the open dashboard by themselves, unless Live is off', async ({ page, request }) => {
  const project = `Live ${Date.now()}`;
  const key = projectWithKey(project);
  const send = async (n) => {
    const now = Date.now();
    const events = Array.from({ length: n }, (_, i) => ({
      timestamp: new Date(now - i * 1000).toISOString(), model: 'Live Model',
      input_tokens: 3, output_tokens: 3,
    }));
    await sendEvents(request, key, events);
  };
  await send(2);
  await page.goto(`/?period=24h&tz=UTC&project=${encodeURIComponent(project)}`);
  await page.locator('html[data-hydrated]').waitFor();
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

test('what reads raw events (the breakdown, panels under a dimension filter) follows live updates every 30 s', async ({ page, request }) => {
  // The page's clock is Playwright's, so that 30 s can pass at once.
  await page.clock.install();
  const project = `Slow ${Date.now()}`;
  const key = projectWithKey(project);
  const send = async (user, n) => {
    const now = Date.now();
    await sendEvents(request, key, Array.from({ length: n }, (_, i) => ({
      timestamp: new Date(now - i * 1000).toISOString(), model: 'Slow Model',
      input_tokens: 3, output_tokens: 3, user,
    })));
  };
  await send('slow-a', 2);
  await page.goto(`/?period=24h&tz=UTC&project=${encodeURIComponent(project)}&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  const total = page.getByTestId('total-requests').locator('.value');
  const values = page.getByTestId('value-table');
  await expect(total).toHaveText('2');
  await expect(values).toContainText('slow-a');
  await expect(page.getByTestId('breakdown-pace')).toContainText('every 30 s');
  await page.waitForTimeout(500); // the event stream connects after hydration

  // The summary follows at once; the breakdown only when 30 s have passed since the page opened.
  await send('slow-b', 3);
  await expect(total).toHaveText('5', { timeout: 4_000 });
  await page.waitForTimeout(2_000);
  await expect(values).not.toContainText('slow-b');
  await page.clock.fastForward(30_000);
  await expect(values).toContainText('slow-b');

  // Under a dimension filter every panel reads raw events, and follows at that pace too.
  await page.goto(`/?period=24h&tz=UTC&project=${encodeURIComponent(project)}&user=slow-a`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(total).toHaveText('2');
  await expect(page.getByTestId('filtered-pace')).toBeVisible();
  await page.waitForTimeout(500);
  await send('slow-a', 1);
  await page.waitForTimeout(2_500);
  await expect(total).toHaveText('2');
  await page.clock.fastForward(30_000);
  await expect(total).toHaveText('3');
});
