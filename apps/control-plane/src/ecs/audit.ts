import { z } from 'zod';
import { listAuditEvents } from '../repositories/audit-events.ts';
import { defineAction } from './action.ts';
import { decodeToken, encodeToken } from './pagination.ts';
import { epochSeconds } from './shapes.ts';

/** Epoch seconds, as ECS takes times. */
const time = z.number().min(0).max(1e11);

export const ListAuditEvents = defineAction(
  'Lists audit events (mutating and refused calls), newest first, by time range, action, key, user or result.',
  z.object({
    startTime: time.optional(),
    endTime: time.optional(),
    /** `ecs:CreateService`, `bosun:CreateAccessKey`… */
    action: z.string().min(1).max(256).optional(),
    accessKeyId: z.string().min(1).max(128).optional(),
    userName: z.string().min(1).max(64).optional(),
    /** `ok`, or an error code such as AccessDeniedException. */
    result: z.string().min(1).max(128).optional(),
    maxResults: z.number().int().min(1).max(1000).optional(),
    nextToken: z.string().max(2048).optional(),
  }),
  async (ctx, input) => {
    const limit = input.maxResults ?? 100;
    const cursor = decodeToken(input.nextToken, ['number']);
    const rows = await listAuditEvents(
      ctx.db,
      {
        ...(input.startTime === undefined ? {} : { since: new Date(input.startTime * 1000) }),
        ...(input.endTime === undefined ? {} : { until: new Date(input.endTime * 1000) }),
        ...(input.action === undefined ? {} : { action: input.action }),
        ...(input.accessKeyId === undefined ? {} : { accessKeyId: input.accessKeyId }),
        ...(input.userName === undefined ? {} : { userName: input.userName }),
        ...(input.result === undefined ? {} : { result: input.result }),
      },
      limit + 1,
      cursor?.[0] as number | undefined,
    );
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      auditEvents: items.map((r) => ({
        time: epochSeconds(r.at),
        requestId: r.requestId,
        accessKeyId: r.accessKeyId,
        userName: r.userName,
        action: r.action,
        resources: r.resources,
        result: r.result,
        sourceAddress: r.sourceAddress,
      })),
      ...(rows.length > limit && last ? { nextToken: encodeToken([last.id]) } : {}),
    };
  },
);
