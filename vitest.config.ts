import { defineConfig } from 'vitest/config';

/**
 * Three projects by file name, run one after another (sequence.groupOrder):
 * - unit, `*.test.ts`: pure code (no Postgres, Redis, Docker or child process); files run in parallel.
 * - integration, `*.int.test.ts`: code against a real Postgres, Redis or Docker (scripts/test provides
 *   them), e.g. the control plane in the test's process (@bosun/testkit/control-plane-in-process).
 * - e2e, `*.e2e.test.ts`: bosun as processes (server, agent, a bundle), Docker hosts, the AWS CLI.
 * Integration and e2e share one Postgres server and one Docker daemon, so their files run one at a time.
 * A new test file lands in a project by its name alone.
 *
 * Workspace packages resolve through node_modules/@bosun/* (npm workspace links) to their
 * package.json "exports", which point at TypeScript sources; Vite compiles those on the fly.
 */
const serial = {
  fileParallelism: false,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};
const notOurs = ['**/node_modules/**', '**/.bosun/**'];

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...notOurs, '**/*.int.test.ts', '**/*.e2e.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          exclude: notOurs,
          sequence: { groupOrder: 1 },
          ...serial,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude: notOurs,
          sequence: { groupOrder: 2 },
          ...serial,
        },
      },
    ],
  },
});
