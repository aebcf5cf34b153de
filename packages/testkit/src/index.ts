/**
 * @bosun/testkit: what the tests (the apps' test folders) and the benchmarks (bench/) start bosun with. One
 * implementation of each: README.md says which file starts what. The in-process control plane is
 * its own entry, `@bosun/testkit/control-plane-in-process`: it loads the whole control plane, which
 * a benchmark or an agent test has no use for.
 */
export * from './agent-process.ts';
export * from './agent-stack.ts';
export * from './commands.ts';
export * from './control-plane-process.ts';
export * from './docker-hosts.ts';
export * from './env.ts';
export * from './free-port.ts';
export * from './node-process.ts';
export * from './queue-prefix.ts';
export * from './repo-root.ts';
export * from './scratch-database.ts';
export * from './sigv4.ts';
export * from './tls-trust.ts';
