// Editing on the row you see (issue 32): rename a project, change a viewer's projects, change
// a budget's amount and thresholds and delete it, change a rule's threshold. Each editor
// opens on its row, takes the focus, and the row shows the new values once saved.
import { test, expect } from '@playwright/test';

const section = (page, heading) =>
  page.locator('section', { has: page.getByRole('heading', { name: heading, exact: true }) });

test('an admin edits projects, a viewer, a budget and a rule in place', async ({ page }) => {
  const stamp = Date.now();
  const first = `Edit A ${stamp}`;
  const renamed = `Edit A2 ${stamp}`;
  const other = `Edit B ${stamp}`;
  await page.goto('/admin');
  await page.locator('html[data-hydrated]').waitFor();

  const projects = section(page, 'Projects');
  for (const name of [first, other]) {
    await projects.getByLabel('New project').fill(name);
    await projects.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByTestId('project-list')).toContainText(name);
  }

  // Rename: the field opens with the old name and the focus, Save renames.
  await projects.getByRole('button', { name: `Rename project ${first}` }).click();
  const newName = projects.getByLabel('New name');
  await expect(newName).toBeFocused();
  await expect(newName).toHaveValue(first);
  await newName.fill(renamed);
  await projects.getByRole('button', { name: `Save project ${first}` }).click();
  const list = page.getByTestId('project-list');
  await expect(list).toContainText(renamed);
  await expect(list.getByRole('listitem').filter({ hasText: `${first} ·` })).toHaveCount(0);
  await expect(page.getByTestId('audit-log')).toContainText('project.rename');

  // A viewer limited to the renamed project now sees the other one instead.
  const email = `edit-${stamp}@example.com`;
  const users = section(page, 'Users');
  const create = users.locator('form', { has: page.getByRole('button', { name: 'Create user' }) });
  await create.getByLabel('Email').fill(email);
  await create.getByLabel('Password').fill('edit-password-12');
  await create.getByRole('checkbox', { name: renamed, exact: true }).check();
  await create.getByRole('button', { name: 'Create user' }).click();
  const userRow = page.getByTestId('user-list').getByRole('row').filter({ hasText: email });
  await expect(userRow).toContainText(renamed);
  await userRow.getByRole('button', { name: `Edit projects of user ${email}` }).click();
  await expect(userRow.getByRole('checkbox', { name: renamed, exact: true })).toBeChecked();
  await userRow.getByRole('checkbox', { name: renamed, exact: true }).uncheck();
  await userRow.getByRole('checkbox', { name: other, exact: true }).check();
  await userRow.getByRole('button', { name: `Save projects of user ${email}` }).click();
  await expect(userRow.getByRole('cell', { name: other, exact: true })).toBeVisible();
  await expect(userRow).not.toContainText(renamed);

  // A budget for the renamed project: edit its amount and thresholds, then delete it.
  const budgets = section(page, 'Budgets');
  const form = budgets.locator('form', { has: page.getByRole('button', { name: 'Create budget' }) });
  await form.getByLabel('Project').fill(renamed);
  await form.getByLabel('USD').fill('500');
  await form.getByRole('button', { name: 'Create budget' }).click();
  const budgetRow = page.getByTestId('budget-list').getByRole('row').filter({ hasText: renamed });
  await expect(budgetRow).toContainText('$500.00 per month');
  await expect(budgetRow).toContainText('50, 80, 100 %');
  await budgetRow.getByRole('button', { name: /^Edit budget \d+$/ }).click();
  await expect(budgetRow.getByLabel('USD')).toBeFocused();
  await expect(budgetRow.getByLabel('USD')).toHaveValue('500');
  await budgetRow.getByLabel('USD').fill('250.5');
  await budgetRow.getByLabel('Alert at %').fill('25, 75');
  await budgetRow.getByRole('button', { name: /^Save budget \d+$/ }).click();
  await expect(budgetRow).toContainText('$250.50 per month');
  await expect(budgetRow).toContainText('25, 75 %');
  // A bad amount is refused with the reason; the row keeps its values.
  await budgetRow.getByRole('button', { name: /^Edit budget \d+$/ }).click();
  await budgetRow.getByLabel('USD').fill('0');
  await budgetRow.getByRole('button', { name: /^Save budget \d+$/ }).click();
  await expect(budgets.getByRole('alert')).toContainText('amount');
  await expect(budgetRow).toContainText('$250.50 per month');
  await budgetRow.getByRole('button', { name: /^Delete budget \d+$/ }).click();
  await budgetRow.getByRole('button', { name: /^Yes, delete budget \d+$/ }).click();
  await expect(page.getByTestId('budget-list').getByRole('row').filter({ hasText: renamed })).toHaveCount(0);

  // A rule's threshold, typed in its unit (percent for the error rate).
  const rules = section(page, 'Metric alerts');
  const ruleName = `Edit rule ${stamp}`;
  await rules.getByLabel('Name').fill(ruleName);
  await rules.getByLabel('Threshold', { exact: true }).fill('5');
  await rules.getByRole('button', { name: 'Create rule' }).click();
  const ruleRow = page.getByTestId('rule-list').getByRole('row').filter({ hasText: ruleName });
  await expect(ruleRow).toContainText('above 5 %');
  await ruleRow.getByRole('button', { name: /^Edit threshold of rule \d+/ }).click();
  await expect(ruleRow.getByLabel('Threshold', { exact: true })).toHaveValue('5');
  await ruleRow.getByLabel('Threshold', { exact: true }).fill('7.5');
  await ruleRow.getByRole('button', { name: /^Save threshold of rule \d+/ }).click();
  await expect(ruleRow).toContainText('above 7.5 %');
  await expect(page.getByTestId('audit-log')).toContainText('alert.update');
});
