// Only for bench/convergence.ts, which another branch edits at the same time: delete this file once
// it imports startTestHosts from @bosun/testkit.
export { startTestHosts, type TestHosts } from '@bosun/testkit';
