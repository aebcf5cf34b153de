import type { ArnScope } from '@bosun/model';
import type { FastifyBaseLogger } from 'fastify';
import type { z } from 'zod';
import type { Db } from '../db/client.ts';

/** What every ECS action handler gets: the database, ARN scope, the clock and the caller. */
export interface ActionContext {
  db: Db;
  scope: ArnScope;
  now: Date;
  caller: { accessKeyId: string };
  log: FastifyBaseLogger;
  settings: ControlPlaneSettings;
}

/** Tunables that decisions depend on, from config. */
export interface ControlPlaneSettings {
  /** An agent silent for longer than this is shown agentConnected: false. */
  agentTimeoutMs: number;
  /** How often agents are told to heartbeat. */
  heartbeatIntervalMs: number;
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
