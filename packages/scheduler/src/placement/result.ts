/** What placement answers: where each copy went and, for a copy that found no place, why. */

/** The ECS failure reasons placement can produce (MISSING and RESOURCE:GPU come from elsewhere). */
export type PlacementFailureReason =
  | 'INACTIVE'
  | 'DRAINING'
  | 'AGENT'
  | 'ATTRIBUTE'
  | 'RESOURCE:PORTS'
  | 'RESOURCE:CPU'
  | 'RESOURCE:MEMORY';

export interface PlacementFailure {
  arn: string;
  reason: PlacementFailureReason;
  detail: string;
}

export interface Placement {
  instanceId: string;
  arn: string;
}

export interface ClosestInstance {
  instanceId: string;
  arn: string;
  /** Every check it failed, in filter order. */
  reasons: PlacementFailureReason[];
  /**
   * Completes "The closest matching (container-instance ID) …" in the ECS service event, e.g.
   * "has insufficient memory available".
   */
  lacking: string;
}

export interface PlacementResult {
  /** One per placed copy, in order. */
  placements: Placement[];
  unplaced: number;
  /** For the first unplaced copy: each instance that rejected it and why (ECS failures[]); empty when all fit. */
  failures: PlacementFailure[];
  /** One sentence for the RunTask failure detail and the service event. */
  explanation: string;
  /** The instance that failed the fewest checks for the first unplaced copy. */
  closest?: ClosestInstance;
}
