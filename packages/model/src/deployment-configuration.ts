import { z } from 'zod';

/**
 * CreateService's and UpdateService's deploymentConfiguration, as validated and as stored on the
 * service: ECS's defaults are not filled in (the scheduler resolves them per scheduling strategy).
 */
export const DeploymentConfiguration = z.object({
  minimumHealthyPercent: z.number().int().min(0).max(100).optional(),
  maximumPercent: z.number().int().min(100).max(2000).optional(),
  deploymentCircuitBreaker: z.object({ enable: z.boolean(), rollback: z.boolean() }).optional(),
});
export type DeploymentConfiguration = z.output<typeof DeploymentConfiguration>;
