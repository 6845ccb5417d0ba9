// Dimensions (issue 30): a breakdown by a declared metadata key; clicking a value filters
// every panel by it, the URL holds the filter, and back returns to the unfiltered page.
import { test, expect } from '@playwright/test';
import { cli, projectWithKey, sendEvents } from './helpers.mjs';

test('choose "team", click a value: every panel shows that team only; back returns', async ({ page, request }) => {
  const project = `Teams ${Date.now()}`;
  const key = projectWithKey(project);
  try {
    cli('dimensions', 'add', 'team');
  } catch {
    // Declared by an earlier run on this database.
  }
  const now = Date.now();
  const events = Array.from({ length: 30 }, (_, i) => ({
    timestamp: new Date(now - i * 60_000).toISOString(),
    model: i % 3 === 0 ? 'Team Model Search' : 'Team Model Ads',
    input_tokens: 10, output_tokens: 1, latency_ms: 100, cost_usd: 0.01,
    metadata: { team: i % 3 === 0 ? 'search' : 'ads' },
    ...(i % 6 === 0 ? { status: 'error', error_type: 'search_failed', error_message: 'search broke' } : {}),
  }));
  await sendEvents(request, key, events);

  await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests')).toContainText('30');

  await page.getByTestId('breakdown-by').selectOption('meta.team');
  await expect(page).toHaveURL(/by=meta\.team/);
  const table = page.getByTestId('value-table');
  await expect(table.getByRole('link', { name: 'ads', exact: true })).toBeVisible();
  // Values have a p95 latency column (every latency here is 100 ms); the model table has none.
  await expect(table.getByRole('columnheader', { name: 'p95 latency' })).toBeVisible();
  // Cells after the name: requests, cost, tokens, avg latency, p95 (from the histogram, within
  // its error), error rate.
  const adsCells = table.getByRole('row').filter({ hasText: 'ads' }).first().locator('td');
  await expect(adsCells.nth(4)).toHaveText(/^(9\d|1[01]\d) ms$/);
  await expect(page.getByTestId('model-table').getByRole('columnheader', { name: 'p95 latency' })).toHaveCount(0);
  // The top values' cost per day, one small chart each.
  const charts = page.getByTestId('breakdown-charts');
  await expect(charts).toContainText('Cost per day: ads');
  await expect(charts).toContainText('Cost per day: search');
  await table.getByRole('link', { name: 'search', exact: true }).click();

  await expect(page).toHaveURL(/meta\.team=search/);
  await expect(page.getByTestId('dimension-filters')).toContainText('team = search');
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText('10');
  await expect(page.getByTestId('model-table')).toContainText('Team Model Search');
  await expect(page.getByTestId('model-table')).not.toContainText('Team Model Ads');
  await expect(page.getByTestId('error-log')).toContainText('search broke');
  await expect(table.getByRole('link', { name: 'ads', exact: true })).toHaveCount(0);
  await expect(charts).not.toContainText('Cost per day: ads');

  await page.goBack();
  await expect(page).not.toHaveURL(/meta\.team=search/);
  await expect(page.getByTestId('dimension-filters')).toHaveCount(0);
  await expect(page.getByTestId('total-requests')).toContainText('30');
  await expect(page.getByTestId('model-table')).toContainText('Team Model Ads');
});

test("an end user's page: their spend, models and errors only, reached from the breakdown and by id", async ({ page, request }) => {
  const project = `Users ${Date.now()}`;
  const key = projectWithKey(project);
  const now = Date.now();
  const events = Array.from({ length: 12 }, (_, i) => {
    const alice = i < 5;
    return {
      timestamp: new Date(now - i * 60_000).toISOString(),
      model: alice ? 'Alice Model' : 'Bob Model',
      input_tokens: 10, output_tokens: 1, latency_ms: 100, cost_usd: alice ? 0.5 : 0.01,
      user: alice ? 'u-alice' : 'u-bob',
      ...(i % 4 === 0 ? { status: 'error', error_type: 'failed', error_message: `${alice ? 'alice' : 'bob'} failed` } : {}),
    };
  });
  await sendEvents(request, key, events);

  await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}&by=user&section=all`);
  await page.locator('html[data-hydrated]').waitFor();
  await page.getByTestId('value-table').getByRole('link', { name: 'Page of end user u-alice' }).click();

  await expect(page).toHaveURL(/\/user\?.*user=u-alice/);
  const card = page.getByTestId('end-user');
  await expect(card.getByRole('heading')).toHaveText('End user u-alice');
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText('5');
  await expect(page.getByTestId('total-cost')).toContainText('$2.50');
  await expect(page.getByTestId('model-table')).toContainText('Alice Model');
  await expect(page.getByTestId('model-table')).not.toContainText('Bob Model');
  await expect(page.getByTestId('error-log')).toContainText('alice failed');
  await expect(page.getByTestId('error-log')).not.toContainText('bob failed');

  // The range buttons stay on this page and keep the end user.
  await page.getByRole('button', { name: '30d' }).click();
  await expect(page).toHaveURL(/\/user\?period=30d.*user=u-alice/);
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText('5');

  // Without an id the page asks for one.
  await page.goto('/user');
  await page.locator('html[data-hydrated]').waitFor();
  await page.getByLabel('End user id').fill('u-bob');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/\/user\?.*user=u-bob/);
  await expect(page.getByTestId('end-user').getByRole('heading')).toHaveText('End user u-bob');
  await expect(page.getByTestId('model-table')).toContainText('Bob Model');
});
