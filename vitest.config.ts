import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = fileURLToPath(new URL('./packages/', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; the CLIs that tests spawn run the built dist.
    // `@ferry/<pkg>` is the public entry (src/index.ts), `@ferry/<pkg>/internal` the one tests use.
    alias: [
      { find: /^@ferry\/([a-z-]+)\/internal$/, replacement: `${packages}$1/src/internal.ts` },
      { find: /^@ferry\/([a-z-]+)$/, replacement: `${packages}$1/src/index.ts` },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2 cores: servers started per test file; keep files in parallel but bounded.
    maxWorkers: 2,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
