import type { ArnScope } from '@bosun/model';
import type { FastifyBaseLogger } from 'fastify';
import type { z } from 'zod';
import type { SecretBox } from '../auth/secret-box.ts';
import type { ControlPlaneRuntime } from '../context/runtime.ts';
import type { ControlPlaneSettings } from '../context/settings.ts';
import type { Db } from '../db/client.ts';

/** Who made the call: its key, the key's user, and what the key's policy allows. */
export interface Caller {
  accessKeyId: string;
  userName: string;
  /**
   * Throws AccessDeniedException unless the key's policy allows `action` (`service:Action`) on every
   * one of `resources` in the call's cluster; for checks inside an action (a privileged definition).
   */
  authorize(action: string, resources: readonly string[]): void;
}

/** What the key-management actions need beyond the database. */
export interface AccessKeyAdmin {
  /** Lower-cased `service:Action` of every action bosun serves: a policy naming another is refused. */
  knownActions: ReadonlySet<string>;
  /** Drops a changed key from this process's key cache, so the change applies at once. */
  forget(accessKeyId: string): void;
}

/** What every ECS action handler gets: the database, ARN scope, the clock and the caller. */
export interface ActionContext {
  db: Db;
  scope: ArnScope;
  now: Date;
  caller: Caller;
  accessKeys: AccessKeyAdmin;
  log: FastifyBaseLogger;
  settings: ControlPlaneSettings;
  runtime: ControlPlaneRuntime;
  /** Seals and opens stored secrets (the master key). */
  secretBox: SecretBox;
  /** sha256 of the CA the server's TLS chain ends in: join tokens carry it (CreateJoinToken). */
  caFingerprint: string;
}

export interface Action<S extends z.ZodType = z.ZodType> {
  input: S;
  /** One line for the OpenAPI document. */
  summary: string;
  handle(ctx: ActionContext, input: z.output<S>): Promise<object>;
}

export function defineAction<S extends z.ZodType>(
  summary: string,
  input: S,
  handle: (ctx: ActionContext, input: z.output<S>) => Promise<object>,
): Action<S> {
  return { summary, input, handle };
}
