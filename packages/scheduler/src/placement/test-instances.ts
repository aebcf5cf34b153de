/** The candidate instance placement's tests start from: ACTIVE, connected, 1024 CPU units, 2048 MiB. */
import type { CandidateInstance } from './request.ts';

export function instance(id: string, overrides: Partial<CandidateInstance> = {}): CandidateInstance {
  return {
    instanceId: id,
    arn: `arn:aws:ecs:local:000000000000:container-instance/default/${id}`,
    status: 'ACTIVE',
    agentConnected: true,
    agentVersion: '1.0.0',
    registeredAt: 0,
    runningTasksCount: 0,
    attributes: {},
    taskGroups: new Set(),
    remainingCpu: 1024,
    remainingMemory: 2048,
    usedPorts: new Set(['tcp:22', 'tcp:51678']),
    ...overrides,
  };
}
