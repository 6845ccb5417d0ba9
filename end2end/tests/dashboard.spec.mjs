// The dashboard in a real Chromium against the real server started by `cargo leptos end-to-end`
// (DATABASE_URL points at a fresh SQLite file, set by scripts/test.sh).
import { test, expect } from '@playwright/test';
import { projectWithKey } from './helpers.mjs';

test('the dashboard hydrates, shows ingested usage and reacts to the range buttons', async ({ page, request }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  // Fresh database: onboarding instead of empty charts.
  await page.goto('/?section=all');
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('onboarding')).toBeVisible();

  // A project, a key, and 321 events from the last hour through the public API.
  const project = `E2E ${Date.now()}`;
  const key = projectWithKey(project);
  const now = Date.now();
  const events = Array.from({ length: 321 }, (_, i) => ({
    id: `e2e-${now}-${i}`,
    timestamp: new Date(now - i * 1000).toISOString(),
    model: 'Scalix Standard',
    input_tokens: 100,
    output_tokens: 10,
    latency_ms: 500 + i,
    status: i % 107 === 0 ? 'error' : 'success',
    ...(i % 107 === 0 ? { error_type: 'timeout' } : {}),
  }));
  const res = await request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${key}` },
    data: events,
  });
  expect(res.status()).toBe(200);
  expect(await res.json()).toEqual({ accepted: 321, duplicates: 0 });

  await page.reload();
  await expect(page.getByTestId('total-requests')).toContainText('321');
  await expect(page.getByTestId('total-tokens')).toContainText('35,310');
  await expect(page.getByTestId('success-rate')).toContainText('99.1 %');
  // Cost insights: the three failures, and the project among the cost drivers.
  await expect(page.getByTestId('insights')).toContainText('3 failed requests');
  await expect(page.getByTestId('cost-drivers')).toContainText(project);

  // Only a hydrated page reacts to clicks: the range label and the summary follow the button.
  await page.getByRole('button', { name: '24h' }).click();
  await expect(page.getByTestId('range-label')).toHaveText('Last 24 hours · UTC');
  await expect(page.getByRole('button', { name: '24h' })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('total-requests')).toContainText('321');

  expect(errors).toEqual([]);
});
