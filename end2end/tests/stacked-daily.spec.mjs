// The daily chart split by model or project (issue 32): stacked bars of the top five and
// "(other)", a legend, each bar's parts read out on focus and adding up to the day; the
// metric and split live in the URL, so a reload keeps them.
// (Named to run after dashboard.spec.mjs, which expects the empty database it starts with.)
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

test('the daily chart stacks the top five models and the rest, and the parts add up to the day', async ({ page, request }) => {
  const run = Date.now();
  const project = `Split ${run}`;
  const key = projectWithKey(project);
  // Seven models, one request each, costs chosen so the top five and "(other)" are known.
  const costs = [5, 4, 3, 2, 1, 0.5, 0.25];
  const model = (i) => `Split ${run} M${i + 1}`;
  const at = new Date(Date.now() - 60_000).toISOString();
  await sendEvents(request, key, costs.map((cost_usd, i) => ({
    timestamp: at, model: model(i), input_tokens: 10 * (i + 1), output_tokens: 1, latency_ms: 100, cost_usd,
  })));

  await page.goto(`/?period=7d&tz=UTC&project=${encodeURIComponent(project)}`);
  await page.locator('html[data-hydrated]').waitFor();
  const daily = page.locator('#daily');
  await expect(daily.getByTestId('chart-legend')).toHaveCount(0);

  await daily.getByRole('group', { name: 'Split each day' }).getByRole('button', { name: 'By model' }).click();
  await expect(page).toHaveURL(/split=model/);
  await daily.getByRole('group', { name: 'Daily metric' }).getByRole('button', { name: 'Cost' }).click();
  await expect(page).toHaveURL(/metric=cost/);
  await expect(daily.locator('figcaption')).toHaveText('Cost per day (USD), by model');
  const legend = daily.getByTestId('chart-legend');
  await expect(legend.locator('li')).toHaveText([model(0), model(1), model(2), model(3), model(4), '(other)']);
  // Moving to the Everything section and back to Overview keeps the metric and the split.
  const sections = page.getByTestId('sections');
  await sections.getByRole('link', { name: 'Everything' }).click();
  await expect(page).toHaveURL(/section=all/);
  await expect(page).toHaveURL(/split=model/);
  await sections.getByRole('link', { name: 'Overview' }).click();
  await expect(page).not.toHaveURL(/section=/);
  await expect(page).toHaveURL(/metric=cost/);
  await expect(page).toHaveURL(/split=model/);
  await expect(daily.locator('figcaption')).toHaveText('Cost per day (USD), by model');

  // The day's bar, by keyboard: its parts, bottom first, and the day's total.
  const bar = daily.locator('g.bar').last();
  await expect(bar.locator('rect')).toHaveCount(6);
  await bar.focus();
  const readout = daily.getByTestId('chart-readout');
  await expect(readout).toContainText('$15.75:');
  await expect(readout).toContainText(`${model(0)} $5.00 · ${model(1)} $4.00 · ${model(2)} $3.00 · ${model(3)} $2.00 · ${model(4)} $1.00 · (other) $0.75`);
  // The same day in the table.
  await daily.locator('summary').click();
  await expect(daily.getByTestId('daily-table').getByRole('row').last()).toContainText('$15.75');

  // Tokens split the same way; a reload (as a live update re-renders the panel) keeps both.
  await daily.getByRole('group', { name: 'Daily metric' }).getByRole('button', { name: 'Tokens' }).click();
  await page.reload();
  await page.locator('html[data-hydrated]').waitFor();
  await expect(daily.locator('figcaption')).toHaveText('Tokens per day, by model');
  await daily.locator('g.bar').last().focus();
  await expect(readout).toContainText(`${model(0)} 11 · ${model(1)} 21`);
  await expect(readout).toContainText('(other) 132');

  // By project: one project, so one part and no "(other)".
  await daily.getByRole('button', { name: 'By project' }).click();
  await expect(page).toHaveURL(/split=project/);
  await expect(legend.locator('li')).toHaveText([project]);

  // Latency is an average: not split, and the page says so.
  await daily.getByRole('button', { name: 'Latency' }).click();
  await expect(daily.getByText('Average response times do not add up, so they are not split.')).toBeVisible();
  await expect(legend).toHaveCount(0);

  await daily.getByRole('button', { name: 'Total' }).click();
  await expect(page).not.toHaveURL(/split=/);
  await expect(daily.getByText('Average response times do not add up')).toHaveCount(0);
});
