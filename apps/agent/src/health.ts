/**
 * What the agent says about itself, in `<state dir>/health.json` and on BOSUN_AGENT_HEALTH_PORT: when
 * it last reached the control plane, whether Docker answers, its tasks and the reports still on their
 * way. Built by one pure function from what the loops know, so the file and the endpoint agree.
 */

export interface HealthInputs {
  /** Epoch milliseconds. */
  now: number;
  startedAt: number;
  containerInstanceArn: string;
  controlPlaneUrl: string;
  /** The last answer from the control plane (long-poll, heartbeat or report); undefined = none yet. */
  lastContactAt: number | undefined;
  /** The heartbeat interval the control plane gave. */
  heartbeatIntervalMs: number;
  /** Consecutive failures of each loop (0 while it works). */
  failures: { heartbeat: number; desiredState: number; reports: number };
  docker: { reachable: boolean | undefined; checkedAt: number | undefined; error?: string | undefined };
  /** Each known task's status. */
  taskStatuses: readonly string[];
  reports: { pending: number; dropped: number; lastError?: string | undefined };
}

export interface AgentHealth {
  /** `degraded` names its problems; the agent's tasks keep running either way. */
  status: 'ok' | 'degraded';
  problems: string[];
  writtenAt: string;
  startedAt: string;
  containerInstanceArn: string;
  controlPlane: {
    url: string;
    lastContactAt: string | null;
    secondsSinceContact: number | null;
    failures: HealthInputs['failures'];
  };
  docker: { reachable: boolean | null; checkedAt: string | null; error?: string };
  tasks: { known: number; byStatus: Record<string, number> };
  reports: { pending: number; dropped: number; lastError?: string };
}

/**
 * How long without an answer counts as cut off: three heartbeat intervals, and never less than the
 * control plane's default agent timeout (10 s), so one slow answer is not a problem.
 */
export function contactStaleAfterMs(heartbeatIntervalMs: number): number {
  return Math.max(3 * heartbeatIntervalMs, 10_000);
}

export function describeHealth(i: HealthInputs): AgentHealth {
  const problems: string[] = [];
  const since = i.lastContactAt === undefined ? undefined : Math.max(0, i.now - i.lastContactAt);
  const silentFor = since ?? i.now - i.startedAt;
  if (silentFor > contactStaleAfterMs(i.heartbeatIntervalMs)) {
    problems.push(
      `${since === undefined ? 'no contact with the control plane since the start' : 'no contact with the control plane'} ` +
        `for ${Math.round(silentFor / 1000)} s; tasks keep running`,
    );
  }
  if (i.docker.reachable === false) {
    problems.push(`Docker is not reachable${i.docker.error ? `: ${i.docker.error}` : ''}`);
  }
  const byStatus: Record<string, number> = {};
  for (const s of i.taskStatuses) byStatus[s] = (byStatus[s] ?? 0) + 1;
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    status: problems.length === 0 ? 'ok' : 'degraded',
    problems,
    writtenAt: new Date(i.now).toISOString(),
    startedAt: new Date(i.startedAt).toISOString(),
    containerInstanceArn: i.containerInstanceArn,
    controlPlane: {
      url: i.controlPlaneUrl,
      lastContactAt: iso(i.lastContactAt),
      secondsSinceContact: since === undefined ? null : Math.round(since / 100) / 10,
      failures: i.failures,
    },
    docker: {
      reachable: i.docker.reachable ?? null,
      checkedAt: iso(i.docker.checkedAt),
      ...(i.docker.error && i.docker.reachable === false ? { error: i.docker.error } : {}),
    },
    tasks: { known: i.taskStatuses.length, byStatus },
    reports: {
      pending: i.reports.pending,
      dropped: i.reports.dropped,
      ...(i.reports.lastError && i.reports.pending > 0 ? { lastError: i.reports.lastError } : {}),
    },
  };
}
