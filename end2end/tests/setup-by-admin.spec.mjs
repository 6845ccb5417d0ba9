// The admin page in the browser: an admin creates a project, an ingest key (shown once) that
// really ingests, and a viewer limited to that project, who then sees only it.
import { test, expect } from '@playwright/test';

test('an admin sets up a project, a key and a limited viewer from the admin page', async ({ page, request, browser }) => {
  const project = `Admin E2E ${Date.now()}`;
  await page.goto('/');
  await page.getByRole('link', { name: 'Admin' }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await page.locator('html[data-hydrated]').waitFor();
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();

  const projects = page.locator('section', { has: page.getByRole('heading', { name: 'Projects' }) });
  await projects.getByLabel('New project').fill(project);
  await projects.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByTestId('project-list')).toContainText(project);

  const keys = page.locator('section', { has: page.getByRole('heading', { name: 'Ingest keys' }) });
  await keys.getByLabel('Project').fill(project);
  await keys.getByRole('button', { name: 'Create ingest key' }).click();
  const secret = (await keys.getByTestId('new-secret').textContent()).trim();
  expect(secret).toMatch(/^ua_[a-z0-9]{8}_[a-z0-9]{32}$/);
  // Shown once, said plainly, and copied by a button.
  await expect(keys.getByText('You will not see this again.')).toBeVisible();
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await keys.getByRole('button', { name: 'Copy' }).click();
  await expect(keys.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  const res = await request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${secret}` },
    data: [{ timestamp: new Date().toISOString(), model: 'admin-e2e-model', input_tokens: 7, output_tokens: 3 }],
  });
  expect(res.status()).toBe(200);

  const email = `limited-${Date.now()}@example.com`;
  const users = page.locator('section', { has: page.getByRole('heading', { name: 'Users', exact: true }) });
  const create = users.locator('form', { has: page.getByRole('button', { name: 'Create user' }) });
  await create.getByLabel('Email').fill(email);
  await create.getByLabel('Password').fill('limited-password-1');
  await create.getByRole('checkbox', { name: project, exact: true }).check();
  await create.getByRole('button', { name: 'Create user' }).click();
  await expect(users.getByRole('cell', { name: email, exact: true })).toBeVisible();

  // A bad price is refused with the reason, nothing is saved.
  const prices = page.locator('section', { has: page.getByRole('heading', { name: /^Prices/ }) });
  await prices.getByLabel('Model').fill('admin-e2e-model');
  await prices.getByLabel('Input', { exact: true }).fill('abc');
  await prices.getByLabel('Output', { exact: true }).fill('1');
  await prices.getByRole('button', { name: 'Set price' }).click();
  await expect(prices.getByRole('alert')).toContainText('input');

  await expect(page.getByTestId('audit-log')).toContainText('project.create');
  await expect(page.getByTestId('audit-log')).toContainText('e2e-admin@example.com');

  // The new viewer sees their one project and nothing else.
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const viewer = await context.newPage();
  await viewer.goto('/');
  await viewer.getByLabel('Email').fill(email);
  await viewer.getByLabel('Password').fill('limited-password-1');
  await viewer.getByRole('button', { name: 'Sign in' }).click();
  await expect(viewer.getByTestId('account')).toContainText(project);
  await expect(viewer.getByTestId('total-requests')).toContainText('1');
  await viewer.goto('/admin');
  await expect(viewer.getByRole('alert').first()).toContainText('only admins');
  await context.close();
});
