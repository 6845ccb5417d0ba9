// The released binary alone (issue 33): release/one-binary.spec.mjs copies it into an empty
// directory and starts it itself, so no server is started for it and nobody is signed in.
// Run by scripts/test.sh after scripts/release.sh, with UA_RELEASE_BINARY set.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './release',
  testMatch: '**/*.spec.mjs',
  timeout: 180_000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
});
