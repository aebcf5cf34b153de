import {
  AttributeLimitExceededError,
  arns,
  ClientError,
  InvalidParameterError,
  parseArn,
  TargetNotFoundError,
} from '@bosun/model';
import { z } from 'zod';
import type { InstanceAttribute } from '../db/schema/index.ts';
import { type ClusterRow, requireActiveCluster } from '../repositories/clusters.ts';
import {
  listAttributeRows,
  lockInstances,
  setInstanceAttributes,
} from '../repositories/container-instances.ts';
import { type ActionContext, defineAction } from './action.ts';
import { instanceIdFromRef, onInstancesChanged } from './container-instances.ts';
import { decodeToken, encodeToken, maxResults, nextToken } from './pagination.ts';
import { clusterRef } from './shapes.ts';

/**
 * Custom attributes of container instances (PutAttributes, DeleteAttributes, ListAttributes).
 *
 * Ownership: every attribute an agent registered with — its own `bosun.*` ones (os-type,
 * cpu-architecture, hostname, zone) and the custom ones from its BOSUN_ATTRIBUTES config — belongs to
 * the host: the API can neither overwrite nor delete them (ClientException); change the agent's
 * config instead. Names starting with `bosun.` are reserved for the agent on every instance, so a
 * placement constraint on `attribute:bosun.zone` can trust what it reads. Attributes set through the
 * API are marked `custom` on their entry in container_instances.attributes; heartbeats never touch
 * that column, so they stay until deleted or the instance is deregistered (a re-registering host is a
 * new instance with only what its agent sends).
 */

/** ECS: at most 10 attributes per PutAttributes call, and 10 custom attributes per resource. */
export const MAX_ATTRIBUTES_PER_CALL = 10;
export const MAX_CUSTOM_ATTRIBUTES = 10;
const RESERVED_PREFIX = 'bosun.';

const TARGET_TYPE = 'container-instance';

const attributeName = z
  .string()
  .regex(
    /^[a-zA-Z0-9_.\\/-]{1,128}$/,
    'attribute names are 1-128 letters, numbers, hyphens, underscores, slashes, back slashes and periods',
  );
const attributeValue = z
  .string()
  .regex(
    /^(?! )[a-zA-Z0-9_.@\\/: -]{1,128}(?<! )$/,
    'attribute values are 1-128 letters, numbers, hyphens, underscores, periods, @, slashes, back slashes, colons and spaces, not starting or ending with a space',
  );

const Attribute = z.object({
  name: attributeName,
  value: attributeValue.optional(),
  targetType: z.literal(TARGET_TYPE).optional(),
  targetId: z.string().min(1).max(2048).optional(),
});
type Attribute = z.output<typeof Attribute>;

const isReserved = (name: string) => name.toLowerCase().startsWith(RESERVED_PREFIX);

/** The attribute as the wire shows it: value only when set, the target as its ARN. */
const wireAttribute = (
  ctx: ActionContext,
  clusterName: string,
  instanceId: string,
  a: InstanceAttribute,
) => ({
  name: a.name,
  ...(a.value === undefined ? {} : { value: a.value }),
  targetType: TARGET_TYPE,
  targetId: arns.containerInstance(ctx.scope, clusterName, instanceId),
});

interface Resolved {
  attribute: Attribute;
  instanceId: string;
}

/**
 * Each attribute's target → an instance id of the cluster. Shapes that can never name an instance are
 * InvalidParameterException; an id or ARN that could but names none here is TargetNotFoundException
 * (also for INACTIVE instances, checked under lock by the caller).
 */
function resolveTargets(cluster: ClusterRow, given: readonly Attribute[]): Resolved[] {
  const seen = new Set<string>();
  return given.map((attribute, i) => {
    const ref = attribute.targetId;
    if (ref === undefined) throw new InvalidParameterError(`attributes[${i}]: targetId is required.`);
    if (ref.startsWith('arn:')) {
      if (parseArn(ref)?.kind !== 'container-instance') {
        throw new InvalidParameterError(
          `attributes[${i}]: targetId must be a container instance id or ARN; only container-instance targets are supported.`,
        );
      }
    } else if (attribute.targetType === undefined) {
      // ECS: the short id alone does not say what kind of resource it is.
      throw new InvalidParameterError(`attributes[${i}]: targetType is required with a short targetId.`);
    }
    const instanceId = instanceIdFromRef(ref, cluster.name);
    if (instanceId === undefined) throw targetNotFound(ref);
    const key = `${instanceId}\u0000${attribute.name}`;
    if (seen.has(key)) {
      throw new InvalidParameterError(
        `attributes[${i}]: attribute ${attribute.name} is given twice for the same target.`,
      );
    }
    seen.add(key);
    return { attribute, instanceId };
  });
}

const targetNotFound = (ref: string) =>
  new TargetNotFoundError(`Could not find container instance ${ref} in the cluster.`);

const refusedOwned = (name: string) =>
  new ClientError(
    isReserved(name)
      ? `Attribute ${name} is reserved: bosun.* attributes are set by the agent and cannot be changed through the API.`
      : `Attribute ${name} was registered by the instance's agent and cannot be changed through the API; change the agent's configuration instead.`,
  );

/**
 * Applies `change` to the attribute lists of the targeted instances in one transaction: rows locked in
 * id order, every check done before anything is written, so a refused call stores nothing.
 */
async function changeAttributes(
  ctx: ActionContext,
  cluster: ClusterRow,
  resolved: readonly Resolved[],
  change: (current: InstanceAttribute[], mine: readonly Attribute[]) => InstanceAttribute[],
): Promise<void> {
  const byInstance = new Map<string, Attribute[]>();
  for (const r of resolved)
    byInstance.set(r.instanceId, [...(byInstance.get(r.instanceId) ?? []), r.attribute]);
  await ctx.db.transaction(async (tx) => {
    const rows = await lockInstances(tx, cluster.id, [...byInstance.keys()]);
    const live = new Map(rows.filter((r) => r.status !== 'INACTIVE').map((r) => [r.id, r]));
    for (const r of resolved) {
      if (!live.has(r.instanceId)) throw targetNotFound(r.attribute.targetId ?? r.instanceId);
    }
    const updates = [...live.values()].map((row) => ({
      id: row.id,
      attributes: change(row.attributes, byInstance.get(row.id) ?? []),
    }));
    for (const u of updates) await setInstanceAttributes(tx, u.id, u.attributes, ctx.now);
  });
}

export const PutAttributes = defineAction(
  'Creates or updates custom attributes of container instances (10 per call, 10 custom per instance).',
  z.object({
    cluster: clusterRef.optional(),
    // Longer lists are read so they can be refused with ECS's own AttributeLimitExceededException.
    attributes: z.array(Attribute).min(1).max(100),
  }),
  async (ctx, input) => {
    if (input.attributes.length > MAX_ATTRIBUTES_PER_CALL) {
      throw new AttributeLimitExceededError(
        `You can specify up to ${MAX_ATTRIBUTES_PER_CALL} attributes in a single call; got ${input.attributes.length}.`,
      );
    }
    for (const a of input.attributes) if (isReserved(a.name)) throw refusedOwned(a.name);
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const resolved = resolveTargets(cluster, input.attributes);
    await changeAttributes(ctx, cluster, resolved, (current, mine) => {
      const next = [...current];
      for (const a of mine) {
        const entry: InstanceAttribute = {
          name: a.name,
          ...(a.value === undefined ? {} : { value: a.value }),
          custom: true,
        };
        const i = next.findIndex((e) => e.name === a.name);
        if (i === -1) next.push(entry);
        else if (next[i]?.custom) next[i] = entry;
        else throw refusedOwned(a.name);
      }
      const custom = next.filter((e) => e.custom).length;
      if (custom > MAX_CUSTOM_ATTRIBUTES) {
        throw new AttributeLimitExceededError(
          `A container instance can have up to ${MAX_CUSTOM_ATTRIBUTES} custom attributes; this call would make it ${custom}.`,
        );
      }
      return next;
    });
    await onInstancesChanged(ctx, cluster.id);
    return {
      attributes: resolved.map((r) =>
        wireAttribute(ctx, cluster.name, r.instanceId, {
          name: r.attribute.name,
          ...(r.attribute.value === undefined ? {} : { value: r.attribute.value }),
        }),
      ),
    };
  },
);

export const DeleteAttributes = defineAction(
  'Deletes custom attributes of container instances; the agent’s own ones cannot be deleted.',
  z.object({
    cluster: clusterRef.optional(),
    attributes: z.array(Attribute).min(1).max(MAX_ATTRIBUTES_PER_CALL),
  }),
  async (ctx, input) => {
    for (const a of input.attributes) if (isReserved(a.name)) throw refusedOwned(a.name);
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const resolved = resolveTargets(cluster, input.attributes);
    await changeAttributes(ctx, cluster, resolved, (current, mine) => {
      const names = new Set(mine.map((a) => a.name));
      for (const e of current) if (names.has(e.name) && !e.custom) throw refusedOwned(e.name);
      // Deleting an attribute the instance does not have is a no-op, so a retried call succeeds.
      return current.filter((e) => !names.has(e.name));
    });
    await onInstancesChanged(ctx, cluster.id);
    // ECS echoes the attributes it was asked to delete, targets as ARNs; the value is not needed.
    return {
      attributes: resolved.map((r) =>
        wireAttribute(ctx, cluster.name, r.instanceId, { name: r.attribute.name }),
      ),
    };
  },
);

export const ListAttributes = defineAction(
  'Lists the attributes of a cluster’s container instances, optionally one name (and value).',
  z.object({
    cluster: clusterRef.optional(),
    targetType: z.literal(TARGET_TYPE),
    // Any stored name can be asked for, including the agent's own (which may contain ':').
    attributeName: z.string().min(1).max(128).optional(),
    attributeValue: z.string().min(1).max(128).optional(),
    maxResults,
    nextToken,
  }),
  async (ctx, input) => {
    if (input.attributeValue !== undefined && input.attributeName === undefined) {
      throw new InvalidParameterError('attributeValue can only be used together with attributeName.');
    }
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const limit = input.maxResults ?? 100;
    const after = decodeToken(input.nextToken, ['string', 'string']);
    // The cursor's id is compared as a uuid: a doctored token must not turn into a database error.
    if (after && instanceIdFromRef(String(after[0]), cluster.name) === undefined) {
      throw new InvalidParameterError(
        'Invalid nextToken: pass the nextToken value from the previous response as is.',
      );
    }
    const rows = await listAttributeRows(ctx.db, cluster.id, {
      ...(input.attributeName === undefined ? {} : { name: input.attributeName }),
      ...(input.attributeValue === undefined ? {} : { value: input.attributeValue }),
      ...(after ? { after: { instanceId: String(after[0]), name: String(after[1]) } } : {}),
      limit: limit + 1,
    });
    const pageRows = rows.slice(0, limit);
    const last = pageRows[pageRows.length - 1];
    return {
      attributes: pageRows.map((r) =>
        wireAttribute(ctx, cluster.name, r.instanceId, {
          name: r.name,
          ...(r.value === null ? {} : { value: r.value }),
        }),
      ),
      ...(rows.length > limit && last ? { nextToken: encodeToken([last.instanceId, last.name]) } : {}),
    };
  },
);
