// Refresh re-runs every panel's query without reloading the page.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

test('Refresh shows newly ingested events and says so, without a reload', async ({ page, request }) => {
  const project = `Refresh ${Date.now()}`;
  const key = projectWithKey(project);
  const send = async (n) => {
    const now = Date.now();
    const events = Array.from({ length: n }, (_, i) => ({
      timestamp: new Date(now - i * 1000).toISOString(), model: 'Refresh Model',
      input_tokens: 5, output_tokens: 5, latency_ms: 50,
    }));
    await sendEvents(request, key, events);
  };
  await send(5);
  await page.goto(`/?period=24h&tz=UTC&project=${encodeURIComponent(project)}&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText('5');
  await page.evaluate(() => { window.__stillHere = true; });

  await send(7);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.getByTestId('refresh-status')).toHaveText('Usage data refreshed');
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText('12');
  await expect(page.getByTestId('model-table')).toContainText('12');
  expect(await page.evaluate(() => window.__stillHere)).toBe(true);
  await expect(page.getByRole('button', { name: 'Refresh' })).toBeEnabled();
});

test('a filter change asks again for the panels that follow the query, not for budgets and alerts', async ({ page }) => {
  await page.goto('/?period=24h&tz=UTC&section=all');
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests')).toBeVisible();
  // Live off: a live update would ask for every panel.
  await page.getByRole('checkbox', { name: 'Live' }).uncheck();
  const asked = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/api/get_panel')) asked.push(JSON.parse(r.postData()).panel);
  });
  await page.getByRole('button', { name: '7d' }).click();
  await expect(page).toHaveURL(/period=7d/);
  await expect.poll(() => asked.includes('summary') && asked.includes('errors')).toBe(true);
  await page.waitForLoadState('networkidle');
  expect(asked).not.toContain('budgets');
  expect(asked).not.toContain('alerts');
  // Refresh asks for every panel, these two included.
  asked.length = 0;
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.getByTestId('refresh-status')).toHaveText('Usage data refreshed');
  expect(asked).toEqual(expect.arrayContaining(['summary', 'budgets', 'alerts', 'errors']));
});
