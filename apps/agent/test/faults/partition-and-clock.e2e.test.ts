import type { ControlPlaneProcess, Stack, StackAgent } from '@bosun/testkit';
import { startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CuttableProxy, startCuttableProxy } from './cuttable-proxy.ts';
import { FAULT_SERVER_ENV, FAULT_TIMING, runFault, SETTLE_MS } from './untouched.ts';

/**
 * Fault scenarios 14 and 15: every agent cut off from the control plane for 60 s (a partition on our
 * side: more than half the cluster silent at once), and one of two control planes whose clock is 30 s
 * ahead. Neither is a host failing, so nothing running may be touched. Two agents on the machine's
 * Docker daemon reach the control plane through one proxy the test can cut; a service of 3 per
 * scenario, compared before and after from Postgres' tasks and Docker's containers (untouched.ts).
 */
const PARTITION_MS = 60_000;
const CLOCK_STEP_SECONDS = 30;
let stack: Stack;
let proxy: CuttableProxy;
let agents: StackAgent[];

beforeAll(async () => {
  stack = await startStack({ noAgent: true, serverEnv: FAULT_SERVER_ENV });
  proxy = await startCuttableProxy(new URL(stack.server.endpoint));
  agents = [];
  for (const n of [1, 2]) {
    agents.push(
      await stack.addAgent({
        BOSUN_CONTROL_PLANE_URL: proxy.url,
        BOSUN_ZONE: `zone-${n}`,
        BOSUN_HOSTNAME: `partition-${n}`,
      }),
    );
  }
  await stack.registerBusybox('steady');
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
}, 180_000);

describe('fault suite: a partition and a clock step leave running tasks alone', () => {
  it('14. every agent cut off from the control plane for 60 s, then healed: 0 replaced, the same containers', async () => {
    const figures = await runFault(stack, agents, {
      scenario: '14. every agent partitioned 60 s',
      service: 'partitioned',
      family: 'steady',
      apply: () => proxy.cut(),
      holdMs: PARTITION_MS,
      heal: () => proxy.heal(),
    });
    expect(figures).toMatchObject({ replaced: 0, stopped: 0, lost: 0, duplicates: 0, sameContainers: true });
    // Held back as a suspected partition, not merely unnoticed.
    expect(figures.partitionEvents).toBeGreaterThan(0);
  }, 300_000);

  it('15. a second control plane (workers running) with its clock 30 s ahead: 0 replaced, the same containers', async () => {
    let ahead: ControlPlaneProcess | undefined;
    const figures = await runFault(stack, agents, {
      scenario: `15. clock ${CLOCK_STEP_SECONDS} s ahead on 1 of 2 control planes`,
      service: 'clock-step',
      family: 'steady',
      apply: async () => {
        ahead = await stack.addServer({ BOSUN_CLOCK_OFFSET_SECONDS: String(CLOCK_STEP_SECONDS) });
      },
      // Past any grace after its start (a timeout plus a beat), with sweeps to spare: its workers
      // evaluate the service many times meanwhile.
      holdMs: SETTLE_MS + 4 * FAULT_TIMING.sweepSeconds * 1000,
      heal: async () => {
        const exited = ahead?.child.exitCode ?? null;
        await ahead?.stop();
        if (exited !== null)
          throw new Error(`the control plane ahead exited early (${exited}):\n${ahead?.tail()}`);
      },
      settleMs: 0,
      outageSeconds: CLOCK_STEP_SECONDS,
      outageLabel: 'clock step',
    });
    expect(figures).toMatchObject({ replaced: 0, stopped: 0, lost: 0, duplicates: 0, sameContainers: true });
    // Liveness is on Postgres' clock: the process ahead never even saw the hosts as silent (were it
    // comparing its own clock, every host would look silent and only the partition rule would hold).
    expect(figures.partitionEvents).toBe(0);
  }, 300_000);
});
