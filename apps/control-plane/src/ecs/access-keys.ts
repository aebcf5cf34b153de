import { z } from 'zod';
import {
  createAccessKey,
  listAccessKeys,
  removeAccessKey,
  setAccessKeyPolicy,
  setAccessKeyStatus,
} from '../auth/access-keys.ts';
import type { AccessKeyRow } from '../repositories/access-keys.ts';
import { defineAction } from './action.ts';
import { epochSeconds } from './shapes.ts';

/**
 * Access keys, IAM-shaped (IAM's member names: UserName, AccessKeyId, Status) but served as bosun's
 * own JSON actions on the ECS endpoint (X-Amz-Target: BosunV1.<Action>), which `scripts/bosun`
 * calls; IAM's Query/XML protocol is not served. A user is a name that holds at most two keys; each
 * key carries its policy (a preset by PolicyName, or a PolicyDocument).
 */
const userName = z.string().min(1).max(64);
const accessKeyId = z.string().regex(/^[A-Z0-9]{16,128}$/, 'an access key id');
const policyChoice = {
  PolicyName: z.string().min(1).max(128).optional(),
  /** The policy as a JSON string, as IAM takes it. */
  PolicyDocument: z.string().min(1).max(131072).optional(),
};

function metadata(row: AccessKeyRow) {
  return {
    UserName: row.name,
    AccessKeyId: row.accessKeyId,
    Status: row.status,
    CreateDate: epochSeconds(row.createdAt),
    PolicyName: row.policyName,
    PolicyDocument: JSON.stringify(row.policy),
  };
}

export const CreateAccessKey = defineAction(
  "Creates an access key for a user (at most two each); its policy: the one given, else the user's other key's, else EcsFullAccess.",
  z.object({ UserName: userName, ...policyChoice }),
  async (ctx, input) => {
    const key = await createAccessKey(
      ctx.db,
      ctx.secretBox,
      input.UserName,
      { policyName: input.PolicyName, policyDocument: input.PolicyDocument },
      ctx.accessKeys.knownActions,
    );
    return {
      AccessKey: {
        UserName: key.userName,
        AccessKeyId: key.accessKeyId,
        Status: key.status,
        SecretAccessKey: key.secretAccessKey,
        CreateDate: epochSeconds(key.createDate),
        PolicyName: key.policyName,
      },
    };
  },
);

export const ListAccessKeys = defineAction(
  "Lists access keys (every user's, or one user's) with status and policy; secrets are never returned.",
  z.object({ UserName: userName.optional() }),
  async (ctx, input) => {
    const rows = await listAccessKeys(ctx.db, input.UserName);
    return { AccessKeyMetadata: rows.map(metadata), IsTruncated: false };
  },
);

export const UpdateAccessKey = defineAction(
  'Sets an access key Active or Inactive; an Inactive key is refused (UnrecognizedClientException).',
  z.object({
    AccessKeyId: accessKeyId,
    Status: z.enum(['Active', 'Inactive']),
    UserName: userName.optional(),
  }),
  async (ctx, input) => {
    const row = await setAccessKeyStatus(
      ctx.db,
      input.AccessKeyId,
      input.Status === 'Active' ? 'ACTIVE' : 'INACTIVE',
      input.UserName,
    );
    ctx.accessKeys.forget(input.AccessKeyId);
    return { AccessKeyMetadata: metadata(row) };
  },
);

export const PutAccessKeyPolicy = defineAction(
  "Replaces an access key's policy with a preset (PolicyName) or a PolicyDocument.",
  z.object({ AccessKeyId: accessKeyId, ...policyChoice }),
  async (ctx, input) => {
    const row = await setAccessKeyPolicy(
      ctx.db,
      input.AccessKeyId,
      { policyName: input.PolicyName, policyDocument: input.PolicyDocument },
      ctx.accessKeys.knownActions,
    );
    ctx.accessKeys.forget(input.AccessKeyId);
    return { AccessKeyMetadata: metadata(row) };
  },
);

export const DeleteAccessKey = defineAction(
  'Deletes an access key for good.',
  z.object({ AccessKeyId: accessKeyId, UserName: userName.optional() }),
  async (ctx, input) => {
    const row = await removeAccessKey(ctx.db, input.AccessKeyId, input.UserName);
    ctx.accessKeys.forget(input.AccessKeyId);
    return { AccessKeyMetadata: metadata(row) };
  },
);
