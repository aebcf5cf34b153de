import { ResourceNotFoundError } from '@bosun/model';
import { z } from 'zod';
import { deleteSecret, listSecretNames, putSecret, secretArn } from '../repositories/secrets.ts';
import { defineAction } from './action.ts';
import { epochSeconds } from './shapes.ts';

const secretName = z.string().regex(/^[a-zA-Z0-9/_+=.@-]{1,512}$/, 'up to 512 letters, numbers and /_+=.@-');

/** bosun's stand-in for the Secrets Manager calls ECS users make: put, delete, list (names only). */
export const PutSecret = defineAction(
  'Creates or replaces a secret (e.g. {"username","password"} for repositoryCredentials).',
  z.object({ name: secretName, secretString: z.string().min(1).max(65536) }),
  async (ctx, input) => {
    await putSecret(ctx.db, ctx.secretBox, input.name, input.secretString, ctx.now);
    return { arn: secretArn(ctx.scope, input.name), name: input.name };
  },
);

export const DeleteSecret = defineAction(
  'Deletes a secret.',
  z.object({ name: secretName }),
  async (ctx, input) => {
    if (!(await deleteSecret(ctx.db, input.name))) {
      throw new ResourceNotFoundError(`Secret '${input.name}' does not exist.`);
    }
    return { arn: secretArn(ctx.scope, input.name), name: input.name };
  },
);

export const ListSecrets = defineAction(
  'Lists secret names; values are never returned.',
  z.object({}),
  async (ctx) => {
    const rows = await listSecretNames(ctx.db);
    return {
      secretList: rows.map((r) => ({
        arn: secretArn(ctx.scope, r.name),
        name: r.name,
        lastChangedDate: epochSeconds(r.updatedAt),
      })),
    };
  },
);
