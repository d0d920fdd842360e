import { defineConfig } from 'vitest/config';

// Mesa's EGL must see this in the process environment before Dawn starts; forks inherit it (docs/runtime.md).
process.env.EGL_PLATFORM ??= 'surfaceless';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts', 'scripts/test/**/*.test.ts'],
    // Worker threads cannot pass EGL_PLATFORM to native getenv: use processes.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Random test inputs restart from each test's name (packages/kernels/test/seed.ts).
    setupFiles: ['packages/kernels/test/seed-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
