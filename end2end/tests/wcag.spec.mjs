// Accessibility, measured with axe-core in the real browser: the log-in page, the dashboard
// (with data, a dimension filter and the breakdown, and each section), an end user's page and
// the admin page have no serious or critical violations (WCAG 2.1 A and AA rules).
import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { projectWithKey, sendEvents } from './helpers.mjs';

/** The serious and critical violations on the page, each with the elements it names. */
async function seriousViolations(page) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

test.describe('signed out', () => {
  test.use({ storageState: { cookies: [], origins: [] } });
  test('the log-in page', async ({ page }) => {
    await page.goto('/login');
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });
});

test('the dashboard, filtered and unfiltered, and the admin page', async ({ page, request }) => {
  const project = `A11y ${Date.now()}`;
  const key = projectWithKey(project);
  const now = Date.now();
  await sendEvents(request, key, Array.from({ length: 20 }, (_, i) => ({
    timestamp: new Date(now - i * 3_600_000).toISOString(),
    model: 'a11y-model', input_tokens: 100, output_tokens: 10, latency_ms: 300, cost_usd: 0.02,
    user: `user-${i % 4}`,
    ...(i % 5 === 0 ? { status: 'error', error_type: 'timeout', error_message: 'took too long' } : {}),
  })));

  await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests')).toContainText('20');
  await expect(page.getByTestId('value-table')).toContainText('user-0');
  expect(await seriousViolations(page)).toEqual([]);

  await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}&user=user-1&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('dimension-filters')).toContainText('End user = user-1');
  expect(await seriousViolations(page)).toEqual([]);

  // Each section of the dashboard, and an end user's page.
  for (const section of ['overview', 'costs', 'traffic', 'errors', 'breakdown']) {
    await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}&section=${section}`);
    await page.locator('html[data-hydrated]').waitFor();
    const title = section[0].toUpperCase() + section.slice(1);
    await expect(page.getByTestId('sections').locator('[aria-current="page"]')).toHaveText(title);
    expect(await seriousViolations(page), section).toEqual([]);
  }
  await page.goto(`/user?period=7d&tz=UTC&user=user-1`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('end-user')).toContainText('user-1');
  expect(await seriousViolations(page)).toEqual([]);

  await page.goto('/admin');
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
});

test('by keyboard alone: change the range, sort a table, filter by a breakdown value', async ({ page, request }) => {
  const project = `Keys ${Date.now()}`;
  const key = projectWithKey(project);
  const now = Date.now();
  await sendEvents(request, key, Array.from({ length: 12 }, (_, i) => ({
    timestamp: new Date(now - i * 3_600_000).toISOString(),
    model: i < 8 ? 'kb-model-many' : 'kb-model-few', input_tokens: 10, output_tokens: 1, cost_usd: i < 8 ? 0.001 : 0.05,
    user: i % 2 === 0 ? 'kb-even' : 'kb-odd',
  })));
  await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests')).toContainText('12');
  // Live off (Space on the checkbox): a live update re-renders the tables and would take the
  // focus away from the link below.
  const live = page.getByRole('checkbox', { name: 'Live' });
  await live.focus();
  await page.keyboard.press('Space');
  await expect(live).not.toBeChecked();

  // The daily chart's bars take the focus in turn; below the chart, a live readout says the
  // focused day's values (the same text as the bar's mouse tooltip).
  const bars = page.locator('#daily .bar');
  await bars.first().focus();
  await page.keyboard.press('Tab');
  await expect(bars.nth(1)).toBeFocused();
  const tip = (await bars.nth(1).locator('title').textContent()).trim();
  expect(tip).toMatch(/^\d{4}-\d{2}-\d{2} · [\d,]+ requests · \$/);
  await expect(page.locator('#daily').getByTestId('chart-readout')).toHaveText(tip);

  // Focus the 24h range button and press Enter.
  await page.getByRole('button', { name: '24h' }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/period=24h/);

  // Sort the model table by cost with the keyboard: the costlier model comes first.
  const models = page.getByTestId('model-table');
  const first = () => models.locator('tbody th .name').first().textContent();
  expect(await first()).toBe('kb-model-many');
  await models.getByRole('button', { name: 'Cost' }).focus();
  await page.keyboard.press('Enter');
  await expect.poll(first).toBe('kb-model-few');
  // The order survives new data (here Refresh after one more event; a range change or a live
  // update rebuild the table the same way).
  await sendEvents(request, key, [{
    timestamp: new Date().toISOString(), model: 'kb-model-many', input_tokens: 10, output_tokens: 1, cost_usd: 0.001, user: 'kb-even',
  }]);
  await page.getByRole('button', { name: 'Refresh' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('refresh-status')).toHaveText('Usage data refreshed');
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText('13');
  expect(await first()).toBe('kb-model-few');
  await expect(models.locator('th[aria-sort="descending"]')).toHaveText('Cost');

  // Tab reaches a breakdown value; Enter filters the page by it.
  const value = page.getByTestId('value-table').getByRole('link', { name: 'kb-odd', exact: true });
  await expect(async () => {
    await value.focus();
    await expect(value).toBeFocused({ timeout: 500 });
  }).toPass();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/user=kb-odd/);
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText('6');
});

test('by keyboard alone: revoke a key with its confirmation, and the key stops working', async ({ page, request }) => {
  const project = `Revoke ${Date.now()}`;
  const key = projectWithKey(project);
  await sendEvents(request, key, [{ timestamp: new Date().toISOString(), model: 'kb-revoke', input_tokens: 1, output_tokens: 1 }]);
  await page.goto('/admin');
  await page.locator('html[data-hydrated]').waitFor();
  const row = page.getByTestId('key-list').getByRole('row').filter({ hasText: project });
  await expect(row).toContainText('active');
  const ask = row.getByRole('button', { name: /^Revoke key ua_/ });
  await ask.focus();
  await page.keyboard.press('Enter');
  // The question takes the focus; Cancel would step back.
  const yes = row.getByRole('button', { name: /^Yes, revoke key ua_/ });
  await expect(yes).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(row).toContainText('revoked');
  const res = await request.post('/api/v1/events', { headers: { Authorization: `Bearer ${key}` }, data: [] });
  expect(res.status()).toBe(401);
});
