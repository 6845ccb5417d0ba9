// The summary's change against the previous period (issue 32): below a base of 20 requests
// in the previous period it reads "new", not a five-digit percent; above it, a percent.
import { test, expect } from '@playwright/test';
import { projectWithKey, sendEvents } from './helpers.mjs';

/** `previous` events 30 hours ago (the 24h range's previous period) and `current` now. */
async function projectWith(request, name, previous, current) {
  const key = projectWithKey(name);
  const now = Date.now();
  const event = (id, at) => ({
    id, timestamp: new Date(at).toISOString(), model: 'Scalix Standard',
    input_tokens: 10, output_tokens: 1, latency_ms: 100,
  });
  const events = [
    ...Array.from({ length: previous }, (_, i) => event(`chg-${name}-p${i}`, now - 30 * 3_600_000 - i * 1000)),
    ...Array.from({ length: current }, (_, i) => event(`chg-${name}-c${i}`, now - 60_000 - i * 1000)),
  ];
  await sendEvents(request, key, events);
}

test('a previous period of a handful of requests reads "new"; a real base reads a percent', async ({ page, request }) => {
  const stamp = Date.now();
  const tiny = `Change tiny ${stamp}`;
  const based = `Change based ${stamp}`;
  await projectWith(request, tiny, 3, 50);
  await projectWith(request, based, 40, 50);

  const requests = page.getByTestId('total-requests');
  await page.goto(`/?period=24h&tz=UTC&project=${encodeURIComponent(tiny)}`);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(requests.locator('.value')).toHaveText('50');
  await expect(requests.locator('.change')).toHaveText('new');
  await expect(requests).not.toContainText('%');

  await page.goto(`/?period=24h&tz=UTC&project=${encodeURIComponent(based)}`);
  await expect(requests.locator('.value')).toHaveText('50');
  await expect(requests.locator('.change')).toHaveText('▲ 25.0 % vs previous period');
});
