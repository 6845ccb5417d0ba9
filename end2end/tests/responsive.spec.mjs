// The dashboard, an end user's page and the admin page fit a 360-390 px phone: no horizontal
// page scroll (wide tables scroll inside their own boxes), and no number spills out of its
// summary card.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

/** Elements whose content is wider than their box, or wider than the viewport. */
async function overflowing(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > width) {
      out.push(`page: ${document.documentElement.scrollWidth} > ${width}`);
    }
    for (const el of document.querySelectorAll('.card, .card .value, h1, h2')) {
      if (el.scrollWidth > el.clientWidth + 1) {
        out.push(`${el.className || el.tagName}: "${el.textContent.trim().slice(0, 40)}" ${el.scrollWidth} > ${el.clientWidth}`);
      }
    }
    return out;
  });
}

test('a phone-width dashboard, end-user page and admin page overflow nowhere', async ({ page, request }) => {
  // Large numbers: the cards must hold "1,234,567,890" tokens and long names must not widen
  // the page.
  const project = `A project with a rather long name for a phone screen ${Date.now()}`;
  const key = projectWithKey(project);
  const now = Date.now();
  await sendEvents(request, key, Array.from({ length: 20 }, (_, i) => ({
    timestamp: new Date(now - i * 60_000).toISOString(),
    model: 'a-model-with-an-unusually-long-name-for-a-table-row-2026-12-07',
    input_tokens: 987_654_321, output_tokens: 123_456_789, cost_usd: 1_234.56,
    user: 'someone.with.a.long.address@example-customer-domain.com',
  })));
  for (const width of [360, 375, 390]) {
    await page.setViewportSize({ width, height: 780 });
    for (const url of [
      `/?period=30d&tz=UTC&project=${encodeURIComponent(project)}&section=all`,
      `/user?period=30d&tz=UTC&user=${encodeURIComponent('someone.with.a.long.address@example-customer-domain.com')}`,
      '/admin',
    ]) {
      await page.goto(url);
      await page.locator('html[data-hydrated]').waitFor();
      await expect(page.locator('.loading')).toHaveCount(0);
      expect(await overflowing(page), `${url} at ${width} px`).toEqual([]);
    }
  }
  await page.screenshot({ path: 'test-results/phone.png', fullPage: true });
});
