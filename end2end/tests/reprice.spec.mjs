// A price that arrives late: the dashboard names the unpriced model, the admin follows its
// link, sets a price with a past date, previews and runs the re-pricing, and the dashboard's
// cost changes by exactly what the new price says.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

test('an admin prices an unpriced model with a past date and re-prices its history', async ({ page, request }) => {
  const now = Date.now();
  const project = `Reprice E2E ${now}`;
  const model = `reprice-e2e-${now}`;
  const key = projectWithKey(project);
  const twoDaysAgo = new Date(now - 2 * 86_400_000).toISOString();
  // Two requests of 1M input and 0.5M output tokens: $1 + $1 each at $1 / $2 per million.
  await sendEvents(request, key, [0, 1].map((i) => ({
    id: `${model}-${i}`, timestamp: twoDaysAgo, model, input_tokens: 1_000_000, output_tokens: 500_000,
  })));

  const dashboard = `/?period=7d&project=${encodeURIComponent(project)}&section=all`;
  await page.goto(dashboard);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-cost')).toContainText('$0.00');
  const unpriced = page.getByTestId('unpriced-models');
  await expect(unpriced).toContainText(model);
  await expect(unpriced).toContainText('2 requests');

  // The admin's link leads to the price form with the model filled in.
  await unpriced.getByRole('link', { name: 'set a price' }).click();
  await expect(page).toHaveURL(/\/admin\?model=/);
  await page.locator('html[data-hydrated]').waitFor();
  const prices = page.locator('section', { has: page.getByRole('heading', { name: /^Prices/ }) });
  await expect(prices.getByLabel('Model')).toHaveValue(model);
  const weekAgo = new Date(now - 7 * 86_400_000).toISOString().slice(0, 10);
  await prices.getByLabel('Input', { exact: true }).fill('1');
  await prices.getByLabel('Output', { exact: true }).fill('2');
  await prices.getByLabel('From (UTC)').fill(weekAgo);
  await prices.getByRole('button', { name: 'Set price' }).click();
  await expect(prices.getByRole('status')).toContainText('Saved');

  // "Which price?" explains what the model gets now; the comparison lists it.
  const catalogue = page.locator('section', { has: page.getByRole('heading', { name: 'List prices and your own' }) });
  await catalogue.getByLabel('Model name as sent').fill(model);
  await catalogue.getByRole('button', { name: 'Which price?' }).click();
  await expect(catalogue.getByTestId('price-explained')).toContainText("the price table's price");
  await page.reload();
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('model-prices').getByRole('row', { name: new RegExp(model) })).toContainText('price table');

  // Preview, then re-price this model's events.
  const reprice = page.locator('section', { has: page.getByRole('heading', { name: 'Re-price stored events' }) });
  await reprice.getByLabel('From (UTC)').fill(weekAgo);
  await reprice.getByLabel('Model').fill(model);
  await reprice.getByRole('button', { name: 'Preview' }).click();
  await expect(reprice.getByTestId('reprice-preview')).toContainText('2 change, $0.00 -> $4.00');
  await reprice.getByTestId('reprice-run').click();
  await expect(reprice.getByText(/Re-pricing run \d+ started/)).toBeVisible();
  await expect(async () => {
    await reprice.getByTestId('reprice-refresh').click();
    await expect(reprice.getByTestId('reprice-state').first()).toHaveText('finished', { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });

  // The dashboard now shows the new cost and no unpriced model.
  await page.goto(dashboard);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-cost')).toContainText('$4.00');
  await expect(page.getByTestId('unpriced-models')).toHaveCount(0);
  await expect(page.getByTestId('model-table')).toContainText('price: price table');
});
