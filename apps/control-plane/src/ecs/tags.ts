import {
  type ArnScope,
  ClusterNotFoundError,
  InvalidParameterError,
  LimitExceededError,
  MAX_TAGS_PER_RESOURCE,
  parseArn,
  parseTags,
  ResourceNotFoundError,
  Tag,
} from '@bosun/model';
import { z } from 'zod';
import type { Tx } from '../db/client.ts';
import { lockClusterByName } from '../repositories/clusters.ts';
import { instanceExists } from '../repositories/container-instances.ts';
import { serviceExists } from '../repositories/service-reads.ts';
import { countTags, listTags, putTags, removeTags } from '../repositories/tags.ts';
import { revisionExists } from '../repositories/task-definitions.ts';
import { taskExists } from '../repositories/task-reads.ts';
import { defineAction } from './action.ts';

const resourceArn = z.string().min(1).max(2048);

/**
 * Checks that a taggable resource exists. Locks the cluster row when the ARN names a cluster so a
 * concurrent DeleteCluster cannot interleave.
 */
async function requireResource(tx: Tx, scope: ArnScope, arn: string): Promise<void> {
  const parsed = parseArn(arn);
  if (!parsed || parsed.region !== scope.region || parsed.accountId !== scope.accountId) {
    throw new InvalidParameterError(
      `Invalid resource ARN '${arn}' for region ${scope.region}, account ${scope.accountId}.`,
    );
  }
  const [a, b] = parsed.parts;
  let exists = false;
  switch (parsed.kind) {
    case 'cluster': {
      const row = await lockClusterByName(tx, a ?? '');
      if (row?.status !== 'ACTIVE') throw new ClusterNotFoundError();
      return;
    }
    case 'task-definition': {
      const idx = (a ?? '').lastIndexOf(':');
      const family = (a ?? '').slice(0, idx);
      const revision = Number((a ?? '').slice(idx + 1));
      if (idx > 0 && Number.isInteger(revision)) exists = await revisionExists(tx, { family, revision });
      break;
    }
    case 'service':
      exists = await serviceExists(tx, a ?? '', b ?? '');
      break;
    case 'task':
      exists = await taskExists(tx, b ?? '');
      break;
    case 'container-instance': {
      const id = b ?? '';
      if (/^[0-9a-f-]{36}$/.test(id)) exists = await instanceExists(tx, id);
      break;
    }
    default:
      throw new InvalidParameterError(`Resources of type '${parsed.kind}' cannot be tagged.`);
  }
  if (!exists) throw new ResourceNotFoundError(`The specified resource '${arn}' was not found.`);
}

export const TagResource = defineAction(
  'Adds or overwrites tags on a resource (at most 50 per resource).',
  z.object({ resourceArn, tags: z.array(Tag) }),
  async (ctx, input) => {
    const tags = parseTags(input.tags);
    await ctx.db.transaction(async (tx) => {
      await requireResource(tx, ctx.scope, input.resourceArn);
      await putTags(tx, input.resourceArn, tags);
      const count = await countTags(tx, input.resourceArn);
      // Checked after the write inside the transaction, so overwrites of existing keys count right.
      if (count > MAX_TAGS_PER_RESOURCE) {
        throw new LimitExceededError(
          `A resource can have at most ${MAX_TAGS_PER_RESOURCE} tags; this request would leave ${count}.`,
        );
      }
    });
    return {};
  },
);

export const UntagResource = defineAction(
  'Removes tags by key; keys that are not there are ignored.',
  z.object({ resourceArn, tagKeys: z.array(z.string().min(1).max(128)).max(MAX_TAGS_PER_RESOURCE) }),
  async (ctx, input) => {
    await ctx.db.transaction(async (tx) => {
      await requireResource(tx, ctx.scope, input.resourceArn);
      await removeTags(tx, input.resourceArn, input.tagKeys);
    });
    return {};
  },
);

export const ListTagsForResource = defineAction(
  "Lists a resource's tags.",
  z.object({ resourceArn }),
  async (ctx, input) => {
    return ctx.db.transaction(async (tx) => {
      await requireResource(tx, ctx.scope, input.resourceArn);
      return { tags: await listTags(tx, input.resourceArn) };
    });
  },
);
