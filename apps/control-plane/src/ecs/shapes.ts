import { z } from 'zod';

/** Fields several actions share, declared once. */
export const clusterRef = z.string().min(1).max(2048);
export const clusterName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,255}$/, 'Cluster names must be 1-255 letters, numbers, hyphens and underscores.');
/** family, family:revision or a task-definition ARN. */
export const taskDefinitionRef = z.string().min(1).max(2048);
/** RunTask's and CreateService's: only EC2 is served, the others are named to be refused in ECS's words. */
export const launchType = z.enum(['EC2', 'EXTERNAL', 'FARGATE']).optional();

/** ECS wire timestamps are epoch seconds with a fraction. */
export const epochSeconds = (d: Date): number => d.getTime() / 1000;
