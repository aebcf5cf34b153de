import { ServerError, ServiceUnavailableError } from '@bosun/model';
import { channels } from '../agent-protocol/wake-ups.ts';
import type { PlacementOutcome, PlacementSpec } from '../db/schema/index.ts';
import type { ActionContext } from '../ecs/action.ts';
import {
  cancelPendingRequest,
  insertOrFindPlacementRequest,
  readPlacementOutcome,
} from '../repositories/placement-requests.ts';

/**
 * The RunTask/StartTask side of placement: store the request (the truth), queue its cluster's
 * placement job (which carries only the cluster id and places every PENDING request), and wait for the worker's "done" message; on timeout fall back to Postgres. With a
 * clientToken, a call that finds its earlier request answers from that request's outcome.
 *
 * A request still PENDING when the wait ends is CANCELLED under its row lock, so the caller's error
 * ("nothing was started, retry") stays true: a worker that picks it up later finds it not PENDING.
 */
export async function submitPlacement(
  ctx: ActionContext,
  clusterId: string,
  spec: PlacementSpec,
  clientToken: string | undefined,
): Promise<PlacementOutcome> {
  const request = await insertOrFindPlacementRequest(ctx.db, clusterId, spec, clientToken, ctx.now);
  if (request === undefined) throw new ServerError('The placement request vanished while it was being read.');
  if (request.status === 'DONE' && request.outcome) return request.outcome;

  const id = request.id;
  const log = ctx.log.child({ placementRequestId: id });
  // Redis down: the job cannot be queued (the add fails within its bound); no waiting for nothing.
  let notQueued: unknown;
  await ctx.runtime.notifier.waitFor(
    channels.placement(id),
    ctx.settings.placementWaitMs,
    undefined,
    async () => {
      // Queued only once we listen, so the worker's message cannot come before we wait for it.
      await ctx.runtime.queues.placeCluster(clusterId).catch((err: unknown) => {
        notQueued = err;
      });
      return notQueued !== undefined;
    },
  );

  const after = await readPlacementOutcome(ctx.db, id);
  if (after?.status === 'DONE' && after.outcome) return after.outcome;
  const cancelled = await cancelPendingRequest(ctx.db, id, new Date());
  if (!cancelled) {
    // The worker committed between our read and the cancel.
    const done = await readPlacementOutcome(ctx.db, id);
    if (done?.status === 'DONE' && done.outcome) return done.outcome;
  }
  if (notQueued !== undefined) {
    log.warn({ err: notQueued }, 'placement could not be queued; request cancelled');
    throw new ServiceUnavailableError(
      'bosun cannot reach Redis to place the task; no task was started. Retry the call.',
      notQueued,
    );
  }
  log.warn({ waitedMs: ctx.settings.placementWaitMs }, 'placement did not finish in time; request cancelled');
  throw new ServerError(
    `Task placement did not finish within ${ctx.settings.placementWaitMs / 1000} s; no task was started. Retry the call.`,
  );
}
