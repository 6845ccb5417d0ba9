// The dashboard fits a 360 px phone: no horizontal page scroll (wide tables scroll inside
// their own boxes).
import { test, expect } from '@playwright/test';

test('a phone-width dashboard has no horizontal scroll', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 780 });
  await page.goto('/?period=30d&tz=UTC');
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByTestId('total-requests')).toBeVisible();
  await expect(page.getByTestId('model-table')).toBeVisible();
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  expect(scroll).toBeLessThanOrEqual(client);
  await page.screenshot({ path: 'test-results/phone.png', fullPage: true });
});
