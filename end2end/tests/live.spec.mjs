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
