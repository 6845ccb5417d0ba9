// Signing in and out in the browser: anonymous visitors land on the log-in page, a wrong
// password is refused with a message, the right one opens the page they asked for.
import { test, expect } from '@playwright/test';
import { cli } from './helpers.mjs';

test.use({ storageState: { cookies: [], origins: [] } });

test('an anonymous visitor signs in, lands on the page asked for, and signs out', async ({ page }) => {
  const email = `viewer-${Date.now()}@example.com`;
  process.env.UA_PASSWORD = 'viewer-password-1';
  cli('users', 'create', '--email', email, '--role', 'viewer');
  delete process.env.UA_PASSWORD;

  await page.goto('/?period=7d');
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong email or password.');

  await page.getByLabel('Password').fill('viewer-password-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/\?period=7d$/);
  await expect(page.getByTestId('account')).toContainText(email);
  await expect(page.getByTestId('account')).toContainText('viewer');
  // Viewers get no admin link.
  await expect(page.getByRole('link', { name: 'Admin' })).toHaveCount(0);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
});
