import { z } from 'zod';

/** One entry of RunTask's `overrides.containerOverrides`, as validated, stored and shown by DescribeTasks. */
export const ContainerOverride = z.object({
  name: z.string().min(1).max(255),
  command: z.array(z.string().max(32768)).max(100).optional(),
  environment: z
    .array(z.object({ name: z.string().min(1).max(4096), value: z.string().max(32768).default('') }))
    .max(100)
    .optional(),
  cpu: z.number().int().min(0).max(10240).optional(),
  memory: z
    .number()
    .int()
    .min(6)
    .max(1024 * 1024)
    .optional(),
  memoryReservation: z
    .number()
    .int()
    .min(6)
    .max(1024 * 1024)
    .optional(),
});
export type ContainerOverride = z.output<typeof ContainerOverride>;

/** RunTask's and StartTask's `overrides`. */
export const TaskOverride = z.object({
  containerOverrides: z.array(ContainerOverride).max(10).optional(),
});
