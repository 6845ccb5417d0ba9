// cargo-leptos starts the server just before the tests; wait until it answers /healthz.
export default async function waitForServer(config) {
  const base = config.projects[0].use.baseURL;
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the server at ${base} did not answer /healthz within 60 s`);
}
