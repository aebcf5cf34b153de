// Only for files other branches edit at the same time (bench/convergence.ts, a new
// bench/control-plane-footprint.ts), written against the old single lib.ts: delete this file once
// they import from bench/lib/*.ts and @bosun/testkit like the other benchmarks.
export {
  type AccessKey as Key,
  ecsTarget,
  freePort,
  masterKeyOf,
  REGION,
  REPO_ROOT,
  requireEnv,
  SignedEcsClient as Ecs,
} from '@bosun/testkit';
export * from './lib/chart.ts';
export * from './lib/docker.ts';
export * from './lib/numbers.ts';
export * from './lib/proc.ts';
export * from './lib/processes.ts';
export * from './lib/report.ts';
export * from './lib/run.ts';
export * from './lib/services.ts';
