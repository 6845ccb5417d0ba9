// Shared by the specs: the CLI of the server under test (same DATABASE_URL) and ingest.
import { expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const binary = path.resolve(process.cwd(), '..', 'target', 'release', 'usage-analytics');

/** Runs `usage-analytics ARGS…` against the server's database and returns its output. */
export function cli(...args) {
  return execFileSync(binary, args, { encoding: 'utf8', env: process.env }).trim();
}

/** Creates a project and an ingest key for it; returns the key. */
export function projectWithKey(project) {
  cli('projects', 'create', project);
  return cli('keys', 'create', '--project', project).split('\n').pop();
}

/** Posts events through the public ingest API and expects them all to be accepted. */
export async function sendEvents(request, key, events) {
  const res = await request.post('/api/v1/events', { headers: { Authorization: `Bearer ${key}` }, data: events });
  expect(res.status()).toBe(200);
  return res.json();
}
