// Budgets end to end: an admin sets a budget on the admin page, spend passes 80 %, and the
// dashboard's Budgets panel shows the spend and the Alerts panel the threshold alerts.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

test('a budget set in the admin page alerts in the alerts panel once spend passes 80 %', async ({ page, request }) => {
  const project = `Budget E2E ${Date.now()}`;
  const key = projectWithKey(project);

  await page.goto('/admin');
  await page.locator('html[data-hydrated]').waitFor();
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'Budgets' }) });
  await form.getByLabel('Project').fill(project);
  await form.getByLabel('USD').fill('10');
  await form.getByRole('button', { name: 'Create budget' }).click();
  await expect(form.getByRole('status')).toHaveText('Saved.');

  const now = Date.now();
  await sendEvents(request, key, [4.0, 3.0, 1.5].map((usd, i) => ({
    id: `budget-${now}-${i}`,
    timestamp: new Date(now - i * 1000).toISOString(),
    model: 'budget-model',
    input_tokens: 10,
    output_tokens: 10,
    cost_usd: usd,
  })));

  await page.goto('/');
  await page.locator('html[data-hydrated]').waitFor();
  const row = page.getByTestId('budgets').getByRole('row', { name: new RegExp(project) });
  await expect(row).toContainText('$8.50');
  await expect(row).toContainText('85.0 %');
  for (const list of [page.getByTestId('budget-alerts'), page.getByTestId('alert-history')]) {
    await expect(list).toContainText(`80 % of the ${project} budget reached`);
    await expect(list).toContainText(`50 % of the ${project} budget reached`);
    await expect(list).not.toContainText(`100 % of the ${project} budget`);
  }
  const history = page.getByTestId('alert-history').getByRole('listitem');
  await expect(history.filter({ hasText: `80 % of the ${project} budget reached` })).toHaveCount(1);
});
