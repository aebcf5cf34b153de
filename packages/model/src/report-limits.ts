/**
 * The report limits without zod, so the agent's bundle can take them from the `/report-limits`
 * subpath (the index would load every schema); agent-protocol.ts re-exports them.
 */

/**
 * The protocol's size limits on what an agent reports. The agent truncates free text to them before
 * sending (a Docker error can be any length), and the control plane refuses a report past them.
 */
export const REPORT_LIMITS = {
  /** A container's `reason` and a task's `stoppedReason`: ECS's own limit for `reason` is 1024. */
  reason: 1024,
  containerName: 255,
  runtimeId: 128,
  imageDigest: 256,
  bindIP: 64,
  containersPerTask: 10,
  networkBindingsPerContainer: 200,
  /** Task reports one `POST /agent/v1/report` may carry. */
  reportsPerRequest: 1000,
  /** Task reports the agent sends in one request: an agent with more sends several. */
  reportsPerChunk: 100,
} as const;

/**
 * Epoch milliseconds, bounded to what Postgres' timestamptz and JavaScript's Date both hold (up to
 * 9999-12-31T23:59:59.999Z): a timestamp past it is refused at parse, where it once failed the
 * statement it shared with other agents' reports.
 */
export const MAX_EPOCH_MS = 253_402_300_799_999;
