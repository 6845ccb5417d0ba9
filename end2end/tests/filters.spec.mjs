// Filters live in the URL, invalid ranges are refused without a request, panels follow.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

test('filters live in the URL and back/forward restore them', async ({ page, request }) => {
  const project = `Filters ${Date.now()}`;
  const key = projectWithKey(project);
  const now = Date.now();
  const events = Array.from({ length: 40 }, (_, i) => ({
    timestamp: new Date(now - i * 60_000).toISOString(),
    model: i % 4 === 0 ? 'Filter Model B' : 'Filter Model A',
    input_tokens: 10, output_tokens: 1, latency_ms: 100,
    ...(i % 10 === 0 ? { status: 'error', error_type: 'rate_limit_exceeded', error_message: 'slow down' } : {}),
  }));
  await sendEvents(request, key, events);

  await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('range-label')).toHaveText('Last 7 days · UTC');
  // The date inputs show the days the preset covers, not "mm/dd/yyyy".
  const day = (msAgo) => new Date(Date.now() - msAgo).toISOString().slice(0, 10);
  await expect(page.getByLabel('From', { exact: true })).toHaveValue(day(7 * 86_400_000));
  await expect(page.getByLabel('To', { exact: true })).toHaveValue(day(0));
  await expect(page.getByTestId('total-requests')).toContainText('40');
  await expect(page.getByTestId('model-table')).toContainText('Filter Model B');
  await expect(page.getByTestId('error-types')).toContainText('rate_limit_exceeded');
  await expect(page.getByTestId('error-log')).toContainText('slow down');

  await page.getByRole('button', { name: '24h' }).click();
  await expect(page).toHaveURL(/period=24h/);
  await expect(page.getByTestId('range-label')).toHaveText('Last 24 hours · UTC');
  await page.goBack();
  await expect(page).toHaveURL(/period=7d/);
  await expect(page.getByTestId('range-label')).toHaveText('Last 7 days · UTC');

  // An end before the start is refused inline, and no navigation happens.
  await page.getByLabel('From', { exact: true }).fill('2025-02-10');
  await page.getByLabel('To', { exact: true }).fill('2025-02-01');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('filter-error')).toContainText('before the start');
  await expect(page).toHaveURL(/period=7d/);

  // Sorting the model table by requests flips its order.
  const firstModel = () => page.getByTestId('model-table').locator('tbody th .name').first().textContent();
  expect(await firstModel()).toBe('Filter Model A');
  await page.getByTestId('model-table').getByRole('button', { name: 'Requests' }).click();
  expect(await firstModel()).toBe('Filter Model B');
});

test('a failing query shows an error with Retry in each panel, and the page stays usable', async ({ page }) => {
  await page.goto('/?period=7d&tz=Nowhere/City&section=all');
  await page.locator('html[data-hydrated]').waitFor();
  const alerts = page.locator('.panel-error[role="alert"]');
  await expect(alerts.first()).toContainText('is not an IANA time zone');
  expect(await alerts.count()).toBeGreaterThanOrEqual(6);
  await expect(page.getByRole('button', { name: 'Retry' }).first()).toBeVisible();
  // The filters still work: a valid zone brings the panels back.
  await page.getByLabel('Time zone').selectOption('UTC');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('total-requests')).toBeVisible();
  await expect(alerts).toHaveCount(0);
});

test('sections: Overview by default, Costs shows the cost panels only and keeps its place through a range change, back returns', async ({ page }) => {
  await page.goto('/?period=7d&tz=UTC');
  await page.locator('html[data-hydrated]').waitFor();
  const nav = page.getByTestId('sections');
  await expect(nav.getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page');
  await expect(page.locator('#summary')).toBeVisible();
  await expect(page.locator('#daily')).toBeVisible();
  for (const other of ['#models', '#hourly', '#errors', '#breakdown']) {
    await expect(page.locator(other)).toBeHidden();
  }
  await nav.getByRole('link', { name: 'Everything' }).click();
  await expect(page).toHaveURL(/section=all/);
  await expect(page.locator('#daily')).toBeVisible();
  await expect(page.locator('#models')).toBeVisible();
  await expect(page.locator('#breakdown')).toBeVisible();

  await nav.getByRole('link', { name: 'Costs' }).click();
  await expect(page).toHaveURL(/section=costs/);
  await expect(nav.getByRole('link', { name: 'Costs' })).toHaveAttribute('aria-current', 'page');
  await expect(page.locator('#models')).toBeVisible();
  await expect(page.locator('#forecast')).toBeVisible();
  for (const other of ['#summary', '#daily', '#hourly', '#errors', '#breakdown']) {
    await expect(page.locator(other)).toBeHidden();
  }
  // The filters stay on top and keep the section.
  await page.getByRole('button', { name: '30d' }).click();
  await expect(page).toHaveURL(/period=30d.*section=costs/);
  await expect(page.locator('#daily')).toBeHidden();

  await nav.getByRole('link', { name: 'Errors' }).click();
  await expect(page.locator('#errors')).toBeVisible();
  await expect(page.locator('#models')).toBeHidden();
  await page.goBack();
  await expect(page).toHaveURL(/section=costs/);
  await expect(page.locator('#models')).toBeVisible();
  await expect(page.locator('#errors')).toBeHidden();

  // The breakdown (a dimension's reads the raw events) is asked for only where it shows:
  // Refresh in Costs re-runs every panel but not it; in Breakdown it does.
  const asked = [];
  page.on('request', (r) => { if (r.url().includes('get_breakdown')) asked.push(r.url()); });
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.getByTestId('refresh-status')).toHaveText('Usage data refreshed');
  expect(asked).toEqual([]);
  await nav.getByRole('link', { name: 'Breakdown' }).click();
  await expect(page.locator('#breakdown')).toBeVisible();
  await expect.poll(() => asked.length).toBeGreaterThan(0);
});

test("a first visit from Kolkata never shows UTC's numbers: panels wait for the zone, later visits render at once", async ({ browser, baseURL }) => {
  // Signed in, but no ua_tz cookie yet: the server cannot know the zone.
  const context = await browser.newContext({ timezoneId: 'Asia/Kolkata', baseURL, storageState: 'storage/admin.json' });
  const page = await context.newPage();
  const first = await page.request.get('/?period=7d');
  const html = await first.text();
  expect(html).toContain('Loading…');
  expect(html).not.toContain('data-testid="total-requests"');
  // Every text the summary cards ever showed, from the first paint on.
  await page.addInitScript(() => {
    window.__seenZones = [];
    new MutationObserver(() => {
      const label = document.querySelector('[data-testid="range-label"]');
      const cards = document.querySelector('[data-testid="total-requests"]');
      if (label && cards) window.__seenZones.push(label.textContent);
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
  await page.goto('/?period=7d');
  // Chromium names the zone by its older alias, Asia/Calcutta.
  await expect(page).toHaveURL(/tz=Asia(%2F|\/)(Kolkata|Calcutta)/);
  await expect(page.getByTestId('total-requests')).toBeVisible();
  const seen = await page.evaluate(() => window.__seenZones);
  expect(seen.length).toBeGreaterThan(0);
  expect(seen.filter((z) => !/Asia\/(Kolkata|Calcutta)/.test(z))).toEqual([]);
  // The zone is remembered: the server renders the numbers straight away now.
  const again = await page.request.get('/?period=7d');
  expect(await again.text()).toContain('data-testid="total-requests"');
  await context.close();
});

test('a zone cookie set between the page request and hydration does not break hydration', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, storageState: 'storage/admin.json' });
  const page = await context.newPage();
  // The page's request leaves without the cookie; the browser has it before the page hydrates
  // (as when a page left a moment earlier set it).
  await page.route((url) => url.pathname === '/', async (route) => {
    const response = await route.fetch();
    await context.addCookies([{ name: 'ua_tz', value: 'UTC', url: baseURL }]);
    await route.fulfill({ response });
  });
  await page.goto('/?period=7d');
  await page.locator('html[data-hydrated]').waitFor({ timeout: 15_000 });
  await expect(page.getByTestId('total-requests')).toBeVisible();
  await context.close();
});
