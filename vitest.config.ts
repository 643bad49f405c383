import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // sharp and the local S3 are real in the tests: keep to the machine's two cores.
    maxWorkers: 2,
  },
});
