import type { ContainerStateReport, NetworkBinding, TaskStateReport } from '@bosun/model';
// From the subpath, not the index: the index would load every zod schema into the agent's bundle.
import { MAX_EPOCH_MS, REPORT_LIMITS } from '@bosun/model/report-limits';

/**
 * What the agent sends is bounded to the protocol's limits before it leaves: a Docker error can be
 * any length (a long one-string `command` gives one over 4 kB), and the control plane refuses a report
 * past REPORT_LIMITS. Refused, the report would never arrive; truncated, it arrives with the start of
 * Docker's message, which is the part that says what went wrong. All pure.
 */

/** Marks text the agent cut. One UTF-16 unit, so a cut text is exactly at the limit. */
export const TRUNCATION_MARKER = '…';

/** A high surrogate without its low half, or a low one without its high half (String#toWellFormed). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text the control plane can store and will accept: NUL removed (Postgres cannot hold it), lone
 * surrogates replaced (not valid UTF-8), and at most `limit` UTF-16 units (zod's `.max` counts those),
 * ending with the marker when cut. A surrogate pair is never split by the cut.
 */
export function boundText(text: string, limit: number): string {
  const clean = text.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\ufffd');
  if (clean.length <= limit) return clean;
  if (limit < TRUNCATION_MARKER.length) return '';
  let cut = limit - TRUNCATION_MARKER.length;
  const last = clean.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return clean.slice(0, cut) + TRUNCATION_MARKER;
}

/**
 * An epoch-milliseconds time the protocol takes (an integer in 0..MAX_EPOCH_MS), or undefined to
 * leave it out: a clock far off (year 10000, before 1970) is not a time worth keeping, and the control
 * plane fills in its own when one is missing. A fraction is dropped, not the time.
 */
export function boundEpochMs(ms: number | undefined): number | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const whole = Math.floor(ms);
  return whole >= 0 && whole <= MAX_EPOCH_MS ? whole : undefined;
}

const TIMES = [
  'pullStartedAt',
  'pullStoppedAt',
  'startedAt',
  'stoppingAt',
  'executionStoppedAt',
  'stoppedAt',
] as const;

/** A task report within every limit of the protocol that the agent can meet by cutting. */
export function boundReport(report: TaskStateReport): TaskStateReport {
  const out: TaskStateReport = {
    taskId: report.taskId,
    lastStatus: report.lastStatus,
    containers: report.containers.slice(0, REPORT_LIMITS.containersPerTask).map(boundContainer),
  };
  if (report.healthStatus !== undefined) out.healthStatus = report.healthStatus;
  if (report.stopCode !== undefined) out.stopCode = report.stopCode;
  if (report.stoppedReason !== undefined) {
    out.stoppedReason = boundText(report.stoppedReason, REPORT_LIMITS.reason);
  }
  for (const key of TIMES) {
    const ms = boundEpochMs(report[key]);
    if (ms !== undefined) out[key] = ms;
  }
  return out;
}

function boundContainer(c: ContainerStateReport): ContainerStateReport {
  const out: ContainerStateReport = {
    name: boundName(c.name),
    lastStatus: c.lastStatus,
  };
  if (c.runtimeId !== undefined) out.runtimeId = boundText(c.runtimeId, REPORT_LIMITS.runtimeId);
  if (c.exitCode !== undefined && Number.isSafeInteger(c.exitCode)) out.exitCode = c.exitCode;
  if (c.reason !== undefined) out.reason = boundText(c.reason, REPORT_LIMITS.reason);
  if (c.healthStatus !== undefined) out.healthStatus = c.healthStatus;
  if (c.networkBindings !== undefined) {
    out.networkBindings = c.networkBindings
      .filter(isValidBinding)
      .slice(0, REPORT_LIMITS.networkBindingsPerContainer)
      .map((b) => ({ ...b, bindIP: boundText(b.bindIP, REPORT_LIMITS.bindIP) }));
  }
  if (c.imageDigest !== undefined) out.imageDigest = boundText(c.imageDigest, REPORT_LIMITS.imageDigest);
  return out;
}

/** A container name is required and non-empty: one that cleaning empties (all NUL) becomes U+FFFD. */
function boundName(name: string): string {
  return boundText(name, REPORT_LIMITS.containerName) || '\ufffd';
}

const isPort = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
const isValidBinding = (b: NetworkBinding) =>
  isPort(b.containerPort) && isPort(b.hostPort) && (b.protocol === 'tcp' || b.protocol === 'udp');

/**
 * The report cut to what the control plane needs to move the task on: its id, its status and its
 * containers' statuses. Sent once in place of a report the control plane refused, which the agent
 * believed valid, so something in it is wrong in a way the agent cannot see (another version's
 * limits, say): every optional field could be it, so none is kept. The control plane fills in the
 * stop code, reason and times of a STOPPED task that comes without them.
 */
export function minimalReport(report: TaskStateReport): TaskStateReport {
  return {
    taskId: report.taskId,
    lastStatus: report.lastStatus,
    containers: report.containers.slice(0, REPORT_LIMITS.containersPerTask).map((c) => ({
      name: boundName(c.name),
      lastStatus: c.lastStatus,
    })),
  };
}
