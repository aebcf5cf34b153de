import type { ArnScope } from '@bosun/model';
import type { FastifyBaseLogger } from 'fastify';
import type { z } from 'zod';
import type { Notifier } from '../agent-protocol/wake-ups.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import type { Db } from '../db/client.ts';
import type { Queues } from '../workers/queues.ts';

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
}

/** The process's Redis-backed machinery: job queues and cross-process wake-ups. */
export interface ControlPlaneRuntime {
  queues: Queues;
  notifier: Notifier;
}

/** Tunables that decisions depend on, from config. */
export interface ControlPlaneSettings {
  /** An agent silent for longer than this is shown agentConnected: false. */
  agentTimeoutMs: number;
  /** How often agents are told to heartbeat. */
  heartbeatIntervalMs: number;
  /** How long `GET /agent/v1/desired` waits for a change before answering with the current state. */
  longPollMs: number;
  /** How long RunTask waits for the placement worker before giving up (and cancelling the request). */
  placementWaitMs: number;
  /** STOPPED tasks older than this are forgotten by the housekeeping job (ECS: about an hour). */
  stoppedTaskRetentionMs: number;
  /** How often every ACTIVE/DRAINING service is queued for evaluation whatever happened. */
  serviceSweepMs: number;
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
