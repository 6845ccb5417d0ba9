// Each destructive row action on the admin page asks first (issue 32): disabling a user,
// revoking a read token, deleting a metric alert rule, disabling a webhook. Cancel steps back
// and changes nothing; "Yes, …" does it, and the row shows it. (Revoking a key is in
// wcag.spec.mjs, by keyboard; deleting a budget in admin-edits.spec.mjs.)
import { test, expect } from '@playwright/test';

const section = (page, heading) =>
  page.locator('section', { has: page.getByRole('heading', { name: heading, exact: true }) });

test('disable a user, revoke a token, delete a rule, disable a webhook: each asks first', async ({ page }) => {
  const stamp = Date.now();
  await page.goto('/admin');
  await page.locator('html[data-hydrated]').waitFor();

  // A user: Cancel keeps them active; Yes disables them.
  const email = `rows-${stamp}@example.com`;
  const users = section(page, 'Users');
  const create = users.locator('form', { has: page.getByRole('button', { name: 'Create user' }) });
  await create.getByLabel('Email').fill(email);
  await create.getByLabel('Password').fill('rows-password-12');
  await create.getByRole('button', { name: 'Create user' }).click();
  const userRow = page.getByTestId('user-list').getByRole('row').filter({ hasText: email });
  await expect(userRow).toContainText('active');
  await userRow.getByRole('button', { name: `Disable user ${email}`, exact: true }).click();
  await expect(userRow.getByRole('button', { name: `Yes, disable user ${email}`, exact: true })).toBeFocused();
  await userRow.getByRole('button', { name: 'Cancel' }).click();
  await expect(userRow.getByRole('button', { name: `Disable user ${email}`, exact: true })).toBeVisible();
  await expect(userRow).toContainText('active');
  await userRow.getByRole('button', { name: `Disable user ${email}`, exact: true }).click();
  await userRow.getByRole('button', { name: `Yes, disable user ${email}`, exact: true }).click();
  await expect(userRow).toContainText('disabled');
  await expect(userRow.getByRole('button', { name: `Disable user ${email}`, exact: true })).toHaveCount(0);

  // A read token.
  const tokenName = `Rows token ${stamp}`;
  const tokens = section(page, 'Read API tokens');
  await tokens.getByLabel('Name').fill(tokenName);
  await tokens.getByRole('button', { name: 'Create token' }).click();
  const tokenRow = page.getByTestId('token-list').getByRole('row').filter({ hasText: tokenName });
  await tokenRow.getByRole('button', { name: /^Revoke token / }).click();
  await tokenRow.getByRole('button', { name: /^Yes, revoke token / }).click();
  await expect(tokenRow).toContainText('revoked');
  await expect(tokenRow.getByRole('button', { name: /^Revoke token / })).toHaveCount(0);

  // A metric alert rule: deleted, its row goes.
  const ruleName = `Rows rule ${stamp}`;
  const rules = section(page, 'Metric alerts');
  const ruleForm = rules.locator('form', { has: page.getByRole('button', { name: 'Create rule' }) });
  await ruleForm.getByLabel('Name').fill(ruleName);
  await ruleForm.getByLabel('Threshold').fill('5');
  await ruleForm.getByRole('button', { name: 'Create rule' }).click();
  const ruleRow = page.getByTestId('rule-list').getByRole('row').filter({ hasText: ruleName });
  await expect(ruleRow).toHaveCount(1);
  await ruleRow.getByRole('button', { name: /^Delete rule \d+ / }).click();
  await ruleRow.getByRole('button', { name: /^Yes, delete rule \d+ / }).click();
  await expect(ruleRow).toHaveCount(0);

  // A webhook.
  const url = `https://hooks.example.com/rows-${stamp}`;
  const hooks = section(page, 'Webhooks');
  await hooks.getByLabel('URL').fill(url);
  await hooks.getByRole('button', { name: 'Add webhook' }).click();
  const hookRow = page.getByTestId('webhook-list').getByRole('row').filter({ hasText: url });
  await expect(hookRow).toContainText('active');
  await hookRow.getByRole('button', { name: /^Disable webhook \d+$/ }).click();
  await hookRow.getByRole('button', { name: /^Yes, disable webhook \d+$/ }).click();
  await expect(hookRow).toContainText('disabled');
  await expect(page.getByTestId('audit-log')).toContainText('webhook.disable');
});
