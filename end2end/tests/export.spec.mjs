// Export buttons download files of exactly the current view and say how it went.
import { test, expect } from '@playwright/test';
import fs from 'node:fs';
import { projectWithKey, sendEvents } from './helpers.mjs';

test('Export Excel and Export CSV download the current view', async ({ page, request }) => {
  // Its own data, so the test does not depend on what other tests stored.
  const project = `Export ${Date.now()}`;
  const key = projectWithKey(project);
  const now = Date.now();
  const events = Array.from({ length: 25 }, (_, i) => ({
    timestamp: new Date(now - i * 3_600_000).toISOString(), model: 'Export Model',
    input_tokens: 10, output_tokens: 2, cost_usd: 0.01,
  }));
  await sendEvents(request, key, events);

  await page.goto('/?period=90d&tz=UTC');
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests')).toBeVisible();

  const [xlsx] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export Excel' }).click(),
  ]);
  expect(xlsx.suggestedFilename()).toMatch(/^usage_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.xlsx$/);
  const bytes = fs.readFileSync(await xlsx.path());
  expect(bytes.subarray(0, 2).toString()).toBe('PK'); // a zip container, as XLSX is
  await expect(page.getByTestId('export-status')).toContainText('Usage data exported successfully');

  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  expect(csv.suggestedFilename()).toMatch(/_daily\.csv$/);
  const lines = fs.readFileSync(await csv.path(), 'utf8').trim().split('\n').slice(1);
  const requests = lines.reduce((sum, l) => sum + Number(l.split(',')[1]), 0);
  const daily = await (await request.get('/api/v1/usage/daily?period=90d&tz=UTC')).json();
  expect(requests).toBe(daily.reduce((sum, d) => sum + d.requests, 0));
  expect(requests).toBeGreaterThan(0);
});

test('a failed export says why', async ({ page }) => {
  await page.goto('/?period=7d&tz=Nowhere/Land');
  await page.locator('html[data-hydrated]').waitFor();
  await page.getByRole('button', { name: 'Export Excel' }).click();
  await expect(page.getByTestId('export-status')).toContainText('Export failed: tz:');
});
