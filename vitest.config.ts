import { defineConfig } from 'vitest/config';

/**
 * Three projects, run one after another (sequence.groupOrder):
 * - unit: pure code in packages/ and the scripts' own tests; files run in parallel.
 * - integration: apps/ against a real Postgres and Redis (scripts/test provides them).
 * - e2e: whole processes (server, agent, AWS CLI).
 * Integration and e2e share one Postgres server, so their files run one at a time.
 *
 * Workspace packages resolve through node_modules/@bosun/* (npm workspace links) to their
 * package.json "exports", which point at TypeScript sources; Vite compiles those on the fly.
 */
const serial = {
  fileParallelism: false,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'packages/*/src/**/*.test.ts',
            'scripts/**/*.test.ts',
            'apps/agent/src/docker/container-spec.test.ts',
            'apps/agent/src/reconcile/*.test.ts',
          ],
          exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
          // Pure tests under apps/ run with the unit project.
          exclude: [
            '**/node_modules/**',
            '**/*.e2e.test.ts',
            'apps/agent/src/docker/container-spec.test.ts',
            'apps/agent/src/reconcile/*.test.ts',
          ],
          sequence: { groupOrder: 1 },
          ...serial,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude: ['**/node_modules/**', '**/.bosun/**'],
          sequence: { groupOrder: 2 },
          ...serial,
        },
      },
    ],
  },
});
