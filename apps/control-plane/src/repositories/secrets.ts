import type { ArnScope, TaskDefinitionSpec } from '@bosun/model';
import { asc, eq, inArray } from 'drizzle-orm';
import type { SecretBox } from '../auth/secret-box.ts';
import type { Tx } from '../db/client.ts';
import { secrets } from '../db/schema/index.ts';

export const secretArn = (scope: ArnScope, name: string) =>
  `arn:aws:secretsmanager:${scope.region}:${scope.accountId}:secret:${name}`;

/**
 * A credentialsParameter names a secret by name or by Secrets Manager ARN, as ECS task definitions
 * written for AWS do (`arn:aws:secretsmanager:R:A:secret:NAME`, AWS's random `-AbCdEf` suffix allowed).
 */
export function secretNameFromRef(ref: string): string {
  const m = /^arn:aws:secretsmanager:[^:]*:[^:]*:secret:(.+)$/.exec(ref);
  return m?.[1] ?? ref;
}

export async function putSecret(
  tx: Tx,
  box: SecretBox,
  name: string,
  value: string,
  now: Date,
): Promise<void> {
  const valueCiphertext = box.seal(value);
  await tx
    .insert(secrets)
    .values({ name, valueCiphertext, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({ target: secrets.name, set: { valueCiphertext, updatedAt: now } });
}

export async function deleteSecret(tx: Tx, name: string): Promise<boolean> {
  const rows = await tx.delete(secrets).where(eq(secrets.name, name)).returning({ name: secrets.name });
  return rows.length > 0;
}

export async function listSecretNames(tx: Tx): Promise<{ name: string; updatedAt: Date }[]> {
  return tx
    .select({ name: secrets.name, updatedAt: secrets.updatedAt })
    .from(secrets)
    .orderBy(asc(secrets.name));
}

/**
 * Registry credentials for the containers of a task that name repositoryCredentials: container name →
 * { username, password }. A secret that is missing or not of that shape is left out, so the pull
 * fails on the host with the registry's own "no basic auth credentials" and the task says why.
 */
export async function resolveRegistryAuth(
  tx: Tx,
  box: SecretBox,
  spec: Pick<TaskDefinitionSpec, 'containerDefinitions'>,
): Promise<Record<string, { username: string; password: string }> | undefined> {
  const wanted = new Map<string, string>();
  for (const c of spec.containerDefinitions) {
    const ref = c.repositoryCredentials?.credentialsParameter;
    if (ref) wanted.set(c.name, secretNameFromRef(ref));
  }
  if (wanted.size === 0) return undefined;
  const rows = await tx
    .select()
    .from(secrets)
    .where(inArray(secrets.name, [...new Set(wanted.values())]));
  const byName = new Map(rows.map((r) => [r.name, r.valueCiphertext]));
  const out: Record<string, { username: string; password: string }> = {};
  for (const [container, name] of wanted) {
    const sealed = byName.get(name);
    if (!sealed) continue;
    const auth = parseRegistryCredentials(box.open(sealed));
    if (auth) out[container] = auth;
  }
  return out;
}

/** ECS's format for private registry secrets: `{"username": "…", "password": "…"}`. */
export function parseRegistryCredentials(value: string): { username: string; password: string } | undefined {
  try {
    const v = JSON.parse(value) as { username?: unknown; password?: unknown };
    return typeof v.username === 'string' && typeof v.password === 'string'
      ? { username: v.username, password: v.password }
      : undefined;
  } catch {
    return undefined;
  }
}
