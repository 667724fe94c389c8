import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; the CLIs that tests spawn run the built dist.
    alias: {
      '@ferry/shared': src('shared'),
      '@ferry/site-agent': src('site-agent'),
      '@ferry/coordinator': src('coordinator'),
    },
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
