/**
 * When a silent host counts as lost. Silence alone is not enough: a host falls silent when it dies,
 * but also when the control plane, its database or its network is the one in trouble — and replacing
 * every task of a cluster because bosun itself was away stops everything that was running fine. So,
 * as Kubernetes' node lifecycle controller does, loss is declared only when the control plane could
 * have heard from the host and most of the cluster still talks to it.
 */

/** One container instance as liveness sees it. */
export interface HostContact {
  instanceId: string;
  /** Its agent's last contact is within the agent timeout. */
  connected: boolean;
  /** Tasks wanted RUNNING on it and not yet STOPPED: what a loss would replace. */
  wantedTasks: number;
}

export interface HostLossContext {
  /**
   * This control-plane process could not have heard from agents for a full agent timeout plus a
   * heartbeat interval: it started, or Postgres or Redis came back, less than that ago.
   */
  recovering: boolean;
}

export type HostLossVerdict =
  /** These hosts are lost: their tasks are replaced (at the pace replica.ts allows). */
  | { kind: 'lost'; instanceIds: string[] }
  /**
   * Silent hosts with tasks are not declared lost: bosun was not listening long enough, or so many
   * hosts fell silent together that the fault is more likely ours (a partition, an outage) than
   * theirs. `lost` still lists the silent hosts with nothing to replace, so a stop requested on them
   * earlier is not waited for.
   */
  | {
      kind: 'withheld';
      reason: 'recovering' | 'partition';
      silentInstanceIds: string[];
      /** Hosts that count: connected, or silent with tasks wanted. */
      of: number;
      lost: string[];
    };

/** A cluster this small is one where "all but one" silent is read as a partition. */
export const SMALL_CLUSTER_HOSTS = 3;

/**
 * Too many hosts silent at once to believe they all died: more than half of the hosts that count, or
 * all but one of a small cluster (the one left is typically the control plane's own host, still
 * reachable over loopback when the network is what failed).
 */
export function massSilence(silent: number, of: number): boolean {
  if (silent === 0) return false;
  return silent * 2 > of || (of <= SMALL_CLUSTER_HOSTS && silent >= of - 1);
}

/**
 * The verdict for one cluster. Hosts silent with no task wanted on them are always lost (nothing
 * would be replaced; a stop sent to them earlier is not waited for), and hosts long dead whose tasks
 * were already replaced hold no wanted task, so they do not count towards a later mass silence.
 */
export function hostLoss(hosts: readonly HostContact[], context: HostLossContext): HostLossVerdict {
  const silent = hosts.filter((h) => !h.connected);
  const holding = silent.filter((h) => h.wantedTasks > 0);
  const idle = silent.filter((h) => h.wantedTasks === 0).map((h) => h.instanceId);
  const of = hosts.filter((h) => h.connected || h.wantedTasks > 0).length;
  const withheld = (reason: 'recovering' | 'partition'): HostLossVerdict => ({
    kind: 'withheld',
    reason,
    silentInstanceIds: holding.map((h) => h.instanceId),
    of,
    lost: idle,
  });
  if (holding.length === 0) return { kind: 'lost', instanceIds: idle };
  if (context.recovering) return withheld('recovering');
  if (massSilence(holding.length, of)) return withheld('partition');
  return { kind: 'lost', instanceIds: silent.map((h) => h.instanceId) };
}
