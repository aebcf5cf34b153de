import { ServerError } from '@bosun/model';
import { and, eq, sql } from 'drizzle-orm';
import { preparedPer } from '../db/prepared.ts';
import {
  type PlacementOutcome,
  type PlacementRequestStatus,
  type PlacementSpec,
  placementRequests,
} from '../db/schema/index.ts';
import type { ActionContext } from '../ecs/action.ts';
import { channels } from '../notifier.ts';

/** What the caller reads once the worker says it is done (or the wait ended); prepared, as every RunTask does it. */
const requestOutcomeQuery = preparedPer((db) =>
  db
    .select({ status: placementRequests.status, outcome: placementRequests.outcome })
    .from(placementRequests)
    .where(eq(placementRequests.id, sql.placeholder('id')))
    .prepare('placement_request_outcome'),
);

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
  // One statement on its own first: without a clientToken (or with a new one) that is all it takes,
  // and a transaction around it would cost two more round trips on every RunTask.
  const [inserted] = await ctx.db
    .insert(placementRequests)
    .values({ clusterId, clientToken: clientToken ?? null, status: 'PENDING', spec, createdAt: ctx.now })
    .onConflictDoNothing({ target: [placementRequests.clusterId, placementRequests.clientToken] })
    .returning();
  const request =
    inserted ??
    (await ctx.db.transaction(async (tx) => {
      const [existing] = await tx
        .select()
        .from(placementRequests)
        .where(
          and(
            eq(placementRequests.clusterId, clusterId),
            eq(placementRequests.clientToken, clientToken ?? ''),
          ),
        )
        .for('update');
      if (!existing) throw new ServerError('The placement request vanished while it was being read.');
      // A retry of a call that timed out earlier: place it now.
      if (existing.status === 'CANCELLED') {
        await tx
          .update(placementRequests)
          .set({ status: 'PENDING' })
          .where(eq(placementRequests.id, existing.id));
        return { ...existing, status: 'PENDING' as PlacementRequestStatus };
      }
      return existing;
    }));
  if (request.status === 'DONE' && request.outcome) return request.outcome;

  const id = request.id;
  const log = ctx.log.child({ placementRequestId: id });
  await ctx.runtime.notifier.waitFor(
    channels.placement(id),
    ctx.settings.placementWaitMs,
    undefined,
    async () => {
      // Queued only once we listen, so the worker's message cannot come before we wait for it.
      await ctx.runtime.queues.placeCluster(clusterId);
      return false;
    },
  );

  const [after] = await requestOutcomeQuery(ctx.db).execute({ id });
  if (after?.status === 'DONE' && after.outcome) return after.outcome;
  const [cancelled] = await ctx.db
    .update(placementRequests)
    .set({ status: 'CANCELLED', completedAt: new Date() })
    .where(and(eq(placementRequests.id, id), eq(placementRequests.status, 'PENDING')))
    .returning({ id: placementRequests.id });
  if (!cancelled) {
    // The worker committed between our read and the cancel.
    const [done] = await requestOutcomeQuery(ctx.db).execute({ id });
    if (done?.status === 'DONE' && done.outcome) return done.outcome;
  }
  log.warn({ waitedMs: ctx.settings.placementWaitMs }, 'placement did not finish in time; request cancelled');
  throw new ServerError(
    `Task placement did not finish within ${ctx.settings.placementWaitMs / 1000} s; no task was started. Retry the call.`,
  );
}
