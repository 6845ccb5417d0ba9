// Alerts and webhooks end to end: an admin adds a metric alert rule (seen on the dashboard's
// Alerts panel) and a webhook, presses "Send test", and a real HTTP receiver gets the POST
// with a valid HMAC-SHA256 signature; the delivery log then says "delivered".
import { test, expect } from '@playwright/test';
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

/** An HTTP receiver on a free port that records each request's headers and body. */
async function receiver() {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { seen.push({ headers: req.headers, body }); res.writeHead(204).end(); });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, seen, close: () => server.close() };
}

test('a webhook added in the admin page receives a signed test notification', async ({ page }) => {
  const hook = await receiver();
  try {
    await page.goto('/admin');
    await page.locator('html[data-hydrated]').waitFor();

    const rules = page.locator('section', { has: page.getByRole('heading', { name: 'Metric alerts' }) });
    const name = `Errors ${Date.now()}`;
    await rules.getByLabel('Name').fill(name);
    await rules.getByLabel('Threshold', { exact: true }).fill('5');
    await rules.getByRole('button', { name: 'Create rule' }).click();
    await expect(rules.getByRole('status')).toHaveText('Saved.');
    await expect(rules.getByTestId('rule-list')).toContainText('error rate above 5 % over 10 min, all traffic');

    const hooks = page.locator('section', { has: page.getByRole('heading', { name: 'Webhooks' }) });
    await hooks.getByLabel('URL').fill(hook.url);
    await hooks.getByRole('button', { name: 'Add webhook' }).click();
    const secret = (await hooks.getByTestId('new-secret').textContent()).trim();
    expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    const row = hooks.getByTestId('webhook-list').getByRole('row', { name: new RegExp(hook.url) });
    await row.getByRole('button', { name: 'Send test' }).click();

    // The server's sender runs every second.
    await expect.poll(() => hook.seen.length, { timeout: 15_000 }).toBe(1);
    const { headers, body } = hook.seen[0];
    expect(headers['x-ua-event']).toBe('test');
    const [, t, v1] = headers['x-ua-signature'].match(/^t=(\d+),v1=([0-9a-f]{64})$/);
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
    expect(timingSafeEqual(expected, Buffer.from(v1, 'hex'))).toBe(true);
    expect(Math.abs(Date.now() / 1000 - Number(t))).toBeLessThan(60);
    expect(JSON.parse(body).type).toBe('test');

    await expect.poll(async () => {
      await page.reload();
      return page.getByTestId('delivery-log').getByRole('row', { name: new RegExp(hook.url) }).first().textContent();
    }, { timeout: 15_000 }).toContain('delivered');

    await page.goto('/');
    await page.locator('html[data-hydrated]').waitFor();
    await expect(page.getByTestId('alert-rules')).toContainText(name);
  } finally {
    hook.close();
  }
});
