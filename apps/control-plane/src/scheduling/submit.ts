import { ServerError } from '@bosun/model';
import { and, eq, inArray } from 'drizzle-orm';
import { channels } from '../agent-protocol/wake-ups.ts';
import type { Db } from '../db/client.ts';
import { groupedLookup } from '../db/group-statement.ts';
import {
  type PlacementOutcome,
  type PlacementRequestStatus,
  type PlacementSpec,
  placementRequests,
} from '../db/schema/index.ts';
import type { ActionContext } from '../ecs/action.ts';

/**
 * What the caller reads once the worker says it is done (or the wait ended). Grouped with the other
 * callers' (db/group-statement.ts): the callers of one placement batch are woken together.
 */
const groupedOutcomes = groupedLookup(
  (db: Db, ids: string[]) =>
    db
      .select({
        id: placementRequests.id,
        status: placementRequests.status,
        outcome: placementRequests.outcome,
      })
      .from(placementRequests)
      .where(inArray(placementRequests.id, ids)),
  (row) => row.id,
);
const readOutcome = async (db: Db, id: string) => (await groupedOutcomes(db, [id]))[0];

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

  const after = await readOutcome(ctx.db, id);
  if (after?.status === 'DONE' && after.outcome) return after.outcome;
  const [cancelled] = await ctx.db
    .update(placementRequests)
    .set({ status: 'CANCELLED', completedAt: new Date() })
    .where(and(eq(placementRequests.id, id), eq(placementRequests.status, 'PENDING')))
    .returning({ id: placementRequests.id });
  if (!cancelled) {
    // The worker committed between our read and the cancel.
    const done = await readOutcome(ctx.db, id);
    if (done?.status === 'DONE' && done.outcome) return done.outcome;
  }
  log.warn({ waitedMs: ctx.settings.placementWaitMs }, 'placement did not finish in time; request cancelled');
  throw new ServerError(
    `Task placement did not finish within ${ctx.settings.placementWaitMs / 1000} s; no task was started. Retry the call.`,
  );
}
