import {
  AccessDeniedError,
  type ArnScope,
  arns,
  ClientError,
  describeEscapes,
  escapesOf,
  InvalidParameterError,
  parseArn,
  parseRegisterTaskDefinition,
  parseTaskDefinitionRef,
  RegisterTaskDefinitionInput,
  TASK_DEFINITION_STATUSES,
} from '@bosun/model';
import { z } from 'zod';
import { PRIVILEGED_TASK_DEFINITION_ACTION } from '../auth/policy.ts';
import { listTags, putTags } from '../repositories/tags.ts';
import {
  deregisterRevision,
  findTaskDefinition,
  insertNextRevision,
  listFamilies,
  listRevisions,
  type TaskDefinitionRow,
} from '../repositories/task-definitions.ts';
import { type ActionContext, defineAction } from './action.ts';
import { decodeToken, maxResults, nextToken, page } from './pagination.ts';
import { parseClusterQueryAt } from './placement-input.ts';
import { epochSeconds, taskDefinitionRef } from './shapes.ts';

const IncludeTags = z.array(z.literal('TAGS')).optional();

export function describeTaskDefinition(scope: ArnScope, row: TaskDefinitionRow) {
  return {
    taskDefinitionArn: arns.taskDefinition(scope, row.family, row.revision),
    ...row.spec,
    revision: row.revision,
    status: row.status,
    compatibilities: ['EC2', 'EXTERNAL'],
    registeredAt: epochSeconds(row.registeredAt),
    ...(row.registeredBy ? { registeredBy: row.registeredBy } : {}),
    ...(row.deregisteredAt ? { deregisteredAt: epochSeconds(row.deregisteredAt) } : {}),
  };
}

/**
 * A reference the caller gave → family and revision; an ARN of another region or account is
 * ClientException with the action's own wording (`notHere`), as ECS words it.
 */
function parseRef(scope: ArnScope, ref: string, notHere = 'Unable to describe task definition.') {
  if (ref.startsWith('arn:')) {
    const arn = parseArn(ref);
    if (!arn || arn.region !== scope.region || arn.accountId !== scope.accountId) {
      throw new ClientError(notHere);
    }
  }
  const parsed = parseTaskDefinitionRef(ref);
  if (!parsed)
    throw new InvalidParameterError(
      `Invalid task definition reference '${ref}': use family, family:revision or an ARN.`,
    );
  return parsed;
}

/** The ACTIVE revision a RunTask, StartTask or service names, or ClientException as ECS words it. */
export async function resolveTaskDefinition(ctx: ActionContext, ref: string): Promise<TaskDefinitionRow> {
  const row = await findTaskDefinition(ctx.db, parseRef(ctx.scope, ref, 'TaskDefinition not found.'));
  if (!row) throw new ClientError('TaskDefinition not found.');
  if (row.status !== 'ACTIVE') throw new ClientError('TaskDefinition is inactive');
  return row;
}

export const RegisterTaskDefinition = defineAction(
  'Registers the next revision of a task definition family.',
  RegisterTaskDefinitionInput,
  async (ctx, input) => {
    const { spec, tags } = parseRegisterTaskDefinition(input);
    // What reaches past the container to the host needs its own permission (the agent refuses it
    // too, unless its host allows it): checked before anything is stored.
    const escapes = escapesOf(spec);
    if (escapes.length > 0) {
      const resource = `${arns.taskDefinition(ctx.scope, spec.family, 0).replace(/:0$/, '')}:*`;
      try {
        ctx.caller.authorize(PRIVILEGED_TASK_DEFINITION_ACTION, [resource]);
      } catch (e) {
        throw new AccessDeniedError(
          `${(e as Error).message} This task definition asks for what escapes the container: ${describeEscapes(escapes)}.`,
        );
      }
    }
    // Parse constraint expressions now, so a typo fails at registration rather than at placement.
    spec.placementConstraints.forEach((c, i) => {
      parseClusterQueryAt(`placementConstraints[${i}].expression`, c.expression ?? '');
    });
    const row = await ctx.db.transaction(async (tx) => {
      const inserted = await insertNextRevision(tx, spec, registeredBy(ctx), ctx.now);
      await putTags(tx, arns.taskDefinition(ctx.scope, inserted.family, inserted.revision), tags);
      return inserted;
    });
    return { taskDefinition: describeTaskDefinition(ctx.scope, row), tags };
  },
);

function registeredBy(ctx: ActionContext): string {
  return `arn:aws:iam::${ctx.scope.accountId}:user/${ctx.caller.userName}`;
}

export const DescribeTaskDefinition = defineAction(
  'Describes a task definition by family (latest ACTIVE revision), family:revision or ARN.',
  z.object({ taskDefinition: taskDefinitionRef, include: IncludeTags }),
  async (ctx, input) => {
    const row = await findTaskDefinition(ctx.db, parseRef(ctx.scope, input.taskDefinition));
    if (!row) throw new ClientError('Unable to describe task definition.');
    const arn = arns.taskDefinition(ctx.scope, row.family, row.revision);
    return {
      taskDefinition: describeTaskDefinition(ctx.scope, row),
      ...(input.include?.includes('TAGS') ? { tags: await listTags(ctx.db, arn) } : {}),
    };
  },
);

export const DeregisterTaskDefinition = defineAction(
  'Marks one revision INACTIVE: running tasks keep it, new tasks cannot use it.',
  z.object({ taskDefinition: taskDefinitionRef }),
  async (ctx, input) => {
    const ref = parseRef(ctx.scope, input.taskDefinition);
    if (ref.revision === undefined) {
      throw new ClientError('A revision must be specified: use family:revision or the full ARN.');
    }
    const updated = await deregisterRevision(ctx.db, { family: ref.family, revision: ref.revision }, ctx.now);
    const row = updated ?? (await findTaskDefinition(ctx.db, ref));
    if (!row) throw new ClientError('The specified task definition does not exist.');
    return { taskDefinition: describeTaskDefinition(ctx.scope, row) };
  },
);

export const ListTaskDefinitions = defineAction(
  'Lists task definition ARNs; familyPrefix is the exact family, as in ECS.',
  z.object({
    familyPrefix: z.string().min(1).max(255).optional(),
    status: z.enum(TASK_DEFINITION_STATUSES).optional(),
    sort: z.enum(['ASC', 'DESC']).optional(),
    maxResults,
    nextToken,
  }),
  async (ctx, input) => {
    const limit = input.maxResults ?? 100;
    const after = decodeToken(input.nextToken, ['string', 'number']);
    const rows = await listRevisions(
      ctx.db,
      { status: input.status ?? 'ACTIVE', family: input.familyPrefix },
      {
        descending: input.sort === 'DESC',
        after: after ? { family: String(after[0]), revision: Number(after[1]) } : undefined,
        limit: limit + 1,
      },
    );
    const { items, nextToken: token } = page(rows, limit, (r) => [r.family, r.revision]);
    return {
      taskDefinitionArns: items.map((r) => arns.taskDefinition(ctx.scope, r.family, r.revision)),
      ...(token ? { nextToken: token } : {}),
    };
  },
);

export const ListTaskDefinitionFamilies = defineAction(
  'Lists families; a family is ACTIVE while any of its revisions is.',
  z.object({
    familyPrefix: z.string().min(1).max(255).optional(),
    status: z.enum(['ACTIVE', 'INACTIVE', 'ALL']).optional(),
    maxResults,
    nextToken,
  }),
  async (ctx, input) => {
    const limit = input.maxResults ?? 100;
    const after = decodeToken(input.nextToken, ['string']);
    const families = await listFamilies(
      ctx.db,
      { prefix: input.familyPrefix, status: input.status ?? 'ACTIVE' },
      { afterFamily: after ? String(after[0]) : undefined, limit: limit + 1 },
    );
    const { items, nextToken: token } = page(families, limit, (family) => [family]);
    return { families: items, ...(token ? { nextToken: token } : {}) };
  },
);
