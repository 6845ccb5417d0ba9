// The released binary alone (issue 33): release/one-binary.spec.mjs copies it into an empty
// directory and starts it itself, so no server is started for it and nobody is signed in.
// Run by scripts/test.sh after scripts/release.sh, with UA_RELEASE_BINARY set. The browser
// is launched as the main suite launches it.
import { defineConfig } from '@playwright/test';
import main from './playwright.config.mjs';

export default defineConfig({
  testDir: './release',
  testMatch: '**/*.spec.mjs',
  timeout: 180_000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: { trace: 'off', launchOptions: main.use.launchOptions },
});
