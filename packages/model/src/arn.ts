/**
 * ECS ARNs: `arn:aws:ecs:REGION:ACCOUNT:KIND/...`. Every action accepts either a short name/id or
 * the full ARN, so resolving a reference is part of the domain, not of the HTTP layer.
 */
export interface ArnScope {
  region: string;
  accountId: string;
}

export type ArnKind = 'cluster' | 'service' | 'task' | 'task-definition' | 'container-instance' | 'container';

export interface ParsedArn {
  region: string;
  accountId: string;
  kind: ArnKind;
  /** Everything after `KIND/`, split on `/`. */
  parts: string[];
}

const ARN_RE = /^arn:aws:ecs:([^:]+):([^:]+):([a-z-]+)\/(.+)$/;
const KINDS = new Set<ArnKind>([
  'cluster',
  'service',
  'task',
  'task-definition',
  'container-instance',
  'container',
]);

export function parseArn(value: string): ParsedArn | undefined {
  const m = ARN_RE.exec(value);
  if (!m) return undefined;
  const [, region, accountId, kind, rest] = m as unknown as [string, string, string, ArnKind, string];
  if (!KINDS.has(kind)) return undefined;
  return { region, accountId, kind, parts: rest.split('/') };
}

const prefix = (s: ArnScope) => `arn:aws:ecs:${s.region}:${s.accountId}`;

export const arns = {
  cluster: (s: ArnScope, name: string) => `${prefix(s)}:cluster/${name}`,
  service: (s: ArnScope, cluster: string, name: string) => `${prefix(s)}:service/${cluster}/${name}`,
  task: (s: ArnScope, cluster: string, id: string) => `${prefix(s)}:task/${cluster}/${id}`,
  taskDefinition: (s: ArnScope, family: string, revision: number) =>
    `${prefix(s)}:task-definition/${family}:${revision}`,
  containerInstance: (s: ArnScope, cluster: string, id: string) =>
    `${prefix(s)}:container-instance/${cluster}/${id}`,
  container: (s: ArnScope, cluster: string, taskId: string, id: string) =>
    `${prefix(s)}:container/${cluster}/${taskId}/${id}`,
};

/**
 * The short name a reference points at: `demo` for `demo` or `arn:aws:ecs:…:cluster/demo`.
 * Returns undefined when the reference is an ARN of another kind.
 */
export function clusterNameFromRef(ref: string): string | undefined {
  if (!ref.startsWith('arn:')) return ref;
  const arn = parseArn(ref);
  if (arn?.kind !== 'cluster' || arn.parts.length !== 1) return undefined;
  return arn.parts[0];
}

/** `family`, `family:3` or a task-definition ARN → family and optional revision. */
export function parseTaskDefinitionRef(ref: string): { family: string; revision?: number } | undefined {
  let body = ref;
  if (ref.startsWith('arn:')) {
    const arn = parseArn(ref);
    if (arn?.kind !== 'task-definition' || arn.parts.length !== 1 || !arn.parts[0]) return undefined;
    body = arn.parts[0];
    if (!body.includes(':')) return undefined;
  }
  const idx = body.lastIndexOf(':');
  if (idx === -1) return { family: body };
  const family = body.slice(0, idx);
  const rev = body.slice(idx + 1);
  if (!/^[1-9][0-9]{0,9}$/.test(rev)) return undefined;
  return { family, revision: Number(rev) };
}
