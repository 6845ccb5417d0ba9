// cargo-leptos starts the server just before the tests; wait until /readyz says its database
// is open (it listens before, answering 503 "migrating"), then
// create the admin every spec signs in as (through the real log-in form) and keep the
// session cookie for the specs in storage/admin.json.
import { request } from '@playwright/test';
import { cli } from './tests/helpers.mjs';

export const ADMIN_EMAIL = 'e2e-admin@example.com';
export const ADMIN_PASSWORD = 'e2e-password-123';

export default async function setup(config) {
  const base = config.projects[0].use.baseURL;
  let up = false;
  for (let i = 0; i < 120 && !up; i++) {
    try {
      up = (await fetch(`${base}/readyz`)).ok;
    } catch { /* not listening yet */ }
    if (!up) await new Promise((r) => setTimeout(r, 500));
  }
  if (!up) throw new Error(`the server at ${base} was not ready (/readyz) within 60 s`);

  process.env.UA_PASSWORD = ADMIN_PASSWORD;
  cli('users', 'create', '--email', ADMIN_EMAIL, '--role', 'admin');
  delete process.env.UA_PASSWORD;
  const ctx = await request.newContext({ baseURL: base });
  const res = await ctx.post('/login', {
    form: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, next: '/' },
    headers: { Origin: base },
  });
  if (!res.ok()) throw new Error(`log-in of the e2e admin failed: ${res.status()}`);
  await ctx.storageState({ path: 'storage/admin.json' });
  await ctx.dispose();
}
