/**
 * Task-level sizes, apart from the task-definition schemas so that the agent can import this
 * (`@bosun/model/task-size`) without loading those schemas and zod.
 */

/** Converts ECS task-level sizes to CPU units / MiB: "1 vCPU" → 1024, "2 GB" → 2048, "512" → 512. */
export function parseTaskSize(value: string, kind: 'cpu' | 'memory'): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)?\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  if (unit === undefined) return Number.isInteger(n) ? n : undefined;
  if (kind === 'cpu' && unit === 'vcpu') return Math.round(n * 1024);
  if (kind === 'memory' && unit === 'gb') return Math.round(n * 1024);
  if (kind === 'memory' && unit === 'mb') return Math.round(n);
  return undefined;
}
