import type { ArnScope } from '@bosun/model';
import type { FastifyBaseLogger } from 'fastify';
import type { z } from 'zod';
import type { SecretBox } from '../auth/secret-box.ts';
import type { ControlPlaneRuntime } from '../context/runtime.ts';
import type { ControlPlaneSettings } from '../context/settings.ts';
import type { Db } from '../db/client.ts';

/** What every ECS action handler gets: the database, ARN scope, the clock and the caller. */
export interface ActionContext {
  db: Db;
  scope: ArnScope;
  now: Date;
  caller: { accessKeyId: string };
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
