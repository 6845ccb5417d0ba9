// Every range button and every filter shows what the REST API answers for the same query.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

const count = (n) => n.toLocaleString('en-US');
const usd = (nanos) =>
  '$' + (Math.round(nanos / 1e7) / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

async function expectCardsToMatch(page, request, query) {
  const res = await request.get(`/api/v1/usage/summary?${query}`);
  expect(res.status()).toBe(200);
  const s = await res.json();
  await expect(page.getByTestId('total-requests').locator('.value')).toHaveText(count(s.totalRequests));
  await expect(page.getByTestId('total-tokens').locator('.value')).toHaveText(count(s.totalTokens));
  await expect(page.getByTestId('total-cost').locator('.value')).toHaveText(usd(s.totalCostNanos));
  return s;
}

test('range buttons, pickers, time zone and custom dates match the REST API', async ({ page, request }) => {
  const stamp = Date.now();
  const projects = [`Parity A ${stamp}`, `Parity B ${stamp}`];
  const models = [`Parity Model X ${stamp}`, `Parity Model Y ${stamp}`];
  // Events 1 hour to 80 days old, so every range holds a different set.
  for (const [p, project] of projects.entries()) {
    const key = projectWithKey(project);
    const events = [];
    for (const [i, hoursAgo] of [1, 5, 30, 100, 200, 400, 800, 1900].entries()) {
      for (let k = 0; k <= i + p; k++) {
        events.push({
          timestamp: new Date(stamp - hoursAgo * 3_600_000 - k * 60_000).toISOString(),
          model: models[(i + k) % 2],
          input_tokens: 100 * (k + 1), output_tokens: 7 * (i + 1),
          cost_usd: 0.0137 * (k + 1) * (p + 1), latency_ms: 300 + 10 * i,
        });
      }
    }
    await sendEvents(request, key, events);
  }

  await page.goto('/?period=30d&tz=UTC');
  await page.locator('html[data-hydrated]').waitFor();
  await expectCardsToMatch(page, request, 'period=30d&tz=UTC');
  const seen = new Set();
  for (const period of ['24h', '7d', '90d', '30d']) {
    await page.getByRole('button', { name: period, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`period=${period}`));
    const s = await expectCardsToMatch(page, request, `period=${period}&tz=UTC`);
    seen.add(s.totalRequests);
  }
  expect(seen.size).toBe(4); // each range really showed different numbers

  // Model picker: only model X.
  await page.getByText('All models').click();
  await page.getByLabel(models[0]).check();
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/model=/);
  await expectCardsToMatch(page, request, `period=30d&tz=UTC&model=${encodeURIComponent(models[0])}`);

  // Project picker on top: model X in project B.
  await page.getByText('All projects').click();
  await page.getByLabel(projects[1]).check();
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/project=/);
  await expectCardsToMatch(page, request,
    `period=30d&tz=UTC&model=${encodeURIComponent(models[0])}&projectId=${encodeURIComponent(projects[1])}`);

  // Reset clears the pickers.
  await page.getByRole('button', { name: 'Reset' }).click();
  await expect(page).not.toHaveURL(/model=/);
  await expectCardsToMatch(page, request, 'period=30d&tz=UTC');

  // Time zone selector: days are Kathmandu's.
  await page.getByLabel('Time zone').selectOption('Asia/Kathmandu');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/tz=Asia\/Kathmandu/);
  await expect(page.getByTestId('range-label')).toHaveText('Last 30 days · Asia/Kathmandu');
  const daily = await (await request.get('/api/v1/usage/daily?period=30d&tz=Asia/Kathmandu')).json();
  await page.getByText('Table').click();
  const firstRow = page.getByTestId('daily-table').locator('tbody tr').first();
  await expect(firstRow.locator('td').first()).toHaveText(daily[0].date);
  await expect(firstRow.locator('td').nth(1)).toHaveText(count(daily[0].requests));

  // A valid custom range.
  const day = (hoursAgo) => new Date(stamp - hoursAgo * 3_600_000).toISOString().slice(0, 10);
  const [from, to] = [day(24 * 20), day(24 * 2)];
  await page.getByLabel('From', { exact: true }).fill(from);
  await page.getByLabel('To', { exact: true }).fill(to);
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(new RegExp(`start=${from}&end=${to}`));
  await expectCardsToMatch(page, request, `startDate=${from}&endDate=${to}&tz=Asia/Kathmandu`);
});
