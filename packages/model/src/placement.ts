import { z } from 'zod';

/**
 * Placement constraints and strategies: as RunTask and CreateService/UpdateService take them (the zod
 * shapes), and as they are stored once checked (a placement request's spec, a service row). The
 * checks themselves parse cluster queries, so they live with the ECS actions (ecs/placement-input.ts).
 */

export const PlacementConstraint = z.object({
  type: z.enum(['distinctInstance', 'memberOf']),
  expression: z.string().max(2000).optional(),
});
export type PlacementConstraint = z.output<typeof PlacementConstraint>;

export const PlacementStrategy = z.object({
  type: z.enum(['binpack', 'spread', 'random']),
  field: z.string().max(255).optional(),
});
export type PlacementStrategy = z.output<typeof PlacementStrategy>;

/** memberOf expressions as written: checked before storing, parsed again where they are evaluated. */
export type StoredPlacementConstraint =
  | { type: 'distinctInstance' }
  | { type: 'memberOf'; expression: string };

/** `host` is the same as `instanceId`, as in ECS. */
export type SpreadField = 'instanceId' | 'host' | `attribute:${string}`;

export type StoredPlacementStrategy =
  | { type: 'binpack'; field: 'cpu' | 'memory' }
  | { type: 'spread'; field: SpreadField }
  | { type: 'random' };
