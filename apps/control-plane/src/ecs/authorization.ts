import { type ArnScope, arns, clusterNameFromRef, parseTaskDefinitionRef } from '@bosun/model';
import type { AuthorizationRequest } from '../auth/policy.ts';

/**
 * What a call asks to act on, for its access key's policy and the audit log: the resources (ARNs,
 * as IAM names them for ECS) and the condition keys. Pure, from the action's validated input.
 *
 * - A call in a cluster carries `ecs:cluster` (the cluster's ARN; `default` when none is named).
 * - Its resources are what it names: services, tasks, container instances, clusters, a tagged
 *   resource, a task definition (RunTask, StartTask, Describe/Deregister: `family:REV`, or
 *   `family:*` for the latest; RegisterTaskDefinition: `family:*`), a secret
 *   (`arn:aws:secretsmanager:…:secret:NAME`), an access key's user (`arn:aws:iam::ACCOUNT:user/NAME`).
 *   A call in a cluster that names none of these (List*, PutAttributes, CreateJoinToken…) acts on the
 *   cluster; anything else on `*`.
 */

/** Actions that are not in a cluster (the others carry ecs:cluster, with `default` when none is named). */
const OUTSIDE_CLUSTERS = new Set([
  'ListClusters',
  'DescribeClusters',
  'RegisterTaskDefinition',
  'DescribeTaskDefinition',
  'DeregisterTaskDefinition',
  'ListTaskDefinitions',
  'ListTaskDefinitionFamilies',
  'TagResource',
  'UntagResource',
  'ListTagsForResource',
  'PutSecret',
  'DeleteSecret',
  'ListSecrets',
  'CreateAccessKey',
  'ListAccessKeys',
  'UpdateAccessKey',
  'DeleteAccessKey',
  'PutAccessKeyPolicy',
  'ListAuditEvents',
]);

type Input = Record<string, unknown>;

const strings = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** `name` in cluster, or the ARN as given. */
const inCluster = (refs: string[], make: (id: string) => string) =>
  refs.map((r) => (r.startsWith('arn:') ? r : make(r)));

export function authorizationRequest(
  service: 'ecs' | 'bosun',
  actionName: string,
  input: Input,
  scope: ArnScope,
): AuthorizationRequest {
  const action = `${service}:${actionName}`;
  const clustered = !OUTSIDE_CLUSTERS.has(actionName);
  const clusterRef = strings(input.cluster ?? input.clusterName)[0] ?? 'default';
  const cluster = clusterNameFromRef(clusterRef) ?? clusterRef;
  const context: AuthorizationRequest['context'] = clustered
    ? { 'ecs:cluster': arns.cluster(scope, cluster) }
    : {};
  const resources = resourcesOf(actionName, input, scope, cluster);
  if (resources.length === 0) resources.push(clustered ? arns.cluster(scope, cluster) : '*');
  return { action, resources, context };
}

function resourcesOf(actionName: string, input: Input, scope: ArnScope, cluster: string): string[] {
  const named = [
    ...strings(input.resourceArn),
    ...inCluster(strings(input.serviceName ?? input.service ?? input.services), (s) =>
      arns.service(scope, cluster, s),
    ),
    ...inCluster(strings(input.task ?? input.tasks), (t) => arns.task(scope, cluster, t)),
    ...inCluster(strings(input.containerInstance ?? input.containerInstances), (i) =>
      arns.containerInstance(scope, cluster, i),
    ),
    ...strings(input.clusters).map((c) => arns.cluster(scope, clusterNameFromRef(c) ?? c)),
  ];
  if (named.length > 0) return named;
  if (actionName === 'RegisterTaskDefinition') {
    return strings(input.family).map((f) => `${taskDefinitionPrefix(scope)}${f}:*`);
  }
  const td = strings(input.taskDefinition)[0];
  if (td !== undefined) {
    const ref = parseTaskDefinitionRef(td);
    if (ref) {
      return [
        ref.revision === undefined
          ? `${taskDefinitionPrefix(scope)}${ref.family}:*`
          : arns.taskDefinition(scope, ref.family, ref.revision),
      ];
    }
  }
  if (actionName.endsWith('Secret') && typeof input.name === 'string') {
    return [`arn:aws:secretsmanager:${scope.region}:${scope.accountId}:secret:${input.name}`];
  }
  if (typeof input.UserName === 'string') return [userArn(scope, input.UserName)];
  return [];
}

function taskDefinitionPrefix(scope: ArnScope): string {
  return arns.taskDefinition(scope, '', 0).replace(/:0$/, '');
}

/** The IAM user ARN bosun gives the owner of access keys. */
export function userArn(scope: ArnScope, userName: string): string {
  return `arn:aws:iam::${scope.accountId}:user/${userName}`;
}

/** Describe*, List* and Get* change nothing; every other action is audited. */
export function isMutating(actionName: string): boolean {
  return !/^(Describe|List|Get)/.test(actionName);
}

/**
 * ARNs in an action's answer (up to 20): what a call made (a new task definition revision, the tasks
 * RunTask started), for the audit log. Looks at `*Arn` fields at the top and one level down.
 */
export function arnsInResult(result: unknown): string[] {
  const out = new Set<string>();
  const visit = (v: unknown, depth: number) => {
    if (out.size >= 20 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) visit(x, depth);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (k.endsWith('Arn') && typeof x === 'string' && x.startsWith('arn:')) out.add(x);
      else if (depth < 1) visit(x, depth + 1);
    }
  };
  visit(result, 0);
  return [...out].slice(0, 20);
}
