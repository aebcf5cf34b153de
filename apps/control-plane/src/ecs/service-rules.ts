import { InvalidParameterError, UnsupportedFeatureError } from '@bosun/model';
import type { SchedulingStrategy } from '@bosun/scheduler';
import { z } from 'zod';
import type { launchType } from './shapes.ts';

/** What CreateService and UpdateService accept of a service, checked before anything is read or stored. */

export const serviceName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,255}$/, 'Service names must be 1-255 letters, numbers, hyphens and underscores.');
export const serviceRef = z.string().min(1).max(2048);
export const schedulingStrategy = z.enum(['REPLICA', 'DAEMON']);

export function checkLaunchType(value: z.output<typeof launchType>): void {
  if (value !== undefined && value !== 'EC2') {
    throw new UnsupportedFeatureError(
      `${value} is not a launch type bosun offers; services run with launchType EC2 on bosun's Docker hosts.`,
    );
  }
}

// ECS's own wording for DAEMON services.
const DAEMON_DESIRED_COUNT =
  'The daemon scheduling strategy does not support a desired count for services. Remove the desired count value and try again';
const DAEMON_STRATEGY =
  'The daemon scheduling strategy does not support placement strategies. Remove the placement strategy and try again';

export function checkDaemon(
  strategy: SchedulingStrategy,
  input: { desiredCount?: number | undefined; placementStrategy?: unknown[] | undefined },
): void {
  if (strategy !== 'DAEMON') return;
  if (input.desiredCount !== undefined) throw new InvalidParameterError(DAEMON_DESIRED_COUNT);
  if (input.placementStrategy !== undefined && input.placementStrategy.length > 0)
    throw new InvalidParameterError(DAEMON_STRATEGY);
}
