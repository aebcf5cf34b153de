import { InvalidParameterError } from '@bosun/model';
import { z } from 'zod';

/**
 * Access-key policies: IAM's identity-policy language, the subset a self-hosted ECS needs. Pure:
 * `parsePolicy` validates a document (a syntax error is an InvalidParameterException naming the
 * statement and field), `evaluatePolicy` decides a request. IAM's rules: a request is allowed only
 * if some Allow statement matches and no Deny statement does (explicit Deny wins, default deny).
 *
 * Written here rather than taken from npm: @cloud-copilot/iam-simulate (the maintained simulator)
 * validates every action against AWS's own service catalogue, which has no `bosun:` actions, and is
 * AGPL-licensed; the other packages only build or lint policies. src/auth/policy.test.ts checks these
 * rules with fast-check.
 */

/** The condition operators bosun evaluates (IAM's string and ARN operators; each has an IfExists form). */
const OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'ArnEquals',
  'ArnNotEquals',
  'ArnLike',
  'ArnNotLike',
] as const;
type Operator = (typeof OPERATORS)[number];

/** Condition keys bosun sets on a request (IAM's case-insensitive key names). */
export const CONDITION_KEYS = ['ecs:cluster', 'aws:username', 'bosun:accesskeyid'] as const;
export type ConditionKey = (typeof CONDITION_KEYS)[number];

const oneOrMany = z.union([
  z.string().min(1).max(2048),
  z.array(z.string().min(1).max(2048)).min(1).max(100),
]);

const StatementSchema = z
  .object({
    Sid: z
      .string()
      .regex(/^[A-Za-z0-9]*$/, 'Sid may hold only letters and digits')
      .optional(),
    Effect: z.enum(['Allow', 'Deny']),
    Action: oneOrMany.optional(),
    NotAction: oneOrMany.optional(),
    Resource: oneOrMany.optional(),
    NotResource: oneOrMany.optional(),
    Condition: z.record(z.string(), z.record(z.string(), oneOrMany)).optional(),
  })
  .strict();

const DocumentSchema = z
  .object({
    Version: z.enum(['2012-10-17', '2008-10-17']).optional(),
    Id: z.string().optional(),
    // One statement or a list, as in IAM; a list always, so an error names Statement[i].Field.
    Statement: z.preprocess(
      (v) => (Array.isArray(v) ? v : [v]),
      z.array(StatementSchema).min(1, 'at least one statement').max(100),
    ),
  })
  .strict();

export interface Statement {
  effect: 'Allow' | 'Deny';
  /** Lower-cased `service:Action` patterns; `not` = NotAction. */
  actions: { not: boolean; patterns: string[] };
  resources: { not: boolean; patterns: string[] };
  conditions: Array<{ operator: Operator; ifExists: boolean; key: ConditionKey; values: string[] }>;
}

/** A policy as evaluated; `document` is what the caller gave (stored and shown as given). */
export interface Policy {
  document: PolicyDocument;
  statements: Statement[];
}
export type PolicyDocument = z.output<typeof DocumentSchema>;

/** The policy's size limit (IAM's managed policy: 6,144 characters without whitespace). */
export const MAX_POLICY_CHARS = 6144;

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : v;

/**
 * Validates a policy document (a JSON string or an object). `knownActions` (lower-cased
 * `service:Action`) catches a misspelt literal action; patterns with wildcards may match none.
 * Without it (a policy read back from storage) literal actions are not checked.
 */
export function parsePolicy(input: unknown, knownActions: ReadonlySet<string> | undefined): Policy {
  let raw = input;
  if (typeof input === 'string') {
    if (input.replace(/\s/g, '').length > MAX_POLICY_CHARS) {
      throw new InvalidParameterError(`The policy document is longer than ${MAX_POLICY_CHARS} characters.`);
    }
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new InvalidParameterError(`The policy document is not valid JSON: ${(e as Error).message}`);
    }
  }
  const parsed = DocumentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length
      ? issue.path
          .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
          .join('')
      : 'the document';
    throw new InvalidParameterError(`Syntax error in the policy: ${where}: ${issue?.message ?? 'invalid'}.`);
  }
  const document = parsed.data;
  const statements = document.Statement.map((s, i) => statementOf(s, `Statement[${i}]`, knownActions));
  return { document, statements };
}

function statementOf(
  s: z.output<typeof StatementSchema>,
  where: string,
  known: ReadonlySet<string> | undefined,
): Statement {
  if ((s.Action === undefined) === (s.NotAction === undefined)) {
    throw new InvalidParameterError(
      `Syntax error in the policy: ${where} needs exactly one of Action, NotAction.`,
    );
  }
  if ((s.Resource === undefined) === (s.NotResource === undefined)) {
    throw new InvalidParameterError(
      `Syntax error in the policy: ${where} needs exactly one of Resource, NotResource.`,
    );
  }
  const actionPatterns = list(s.Action ?? s.NotAction).map((a) => a.toLowerCase());
  for (const a of actionPatterns) {
    if (a === '*') continue;
    const m = /^([a-z0-9-]+):([a-z0-9*?]+)$/.exec(a);
    if (!m) {
      throw new InvalidParameterError(
        `Syntax error in the policy: ${where}: action '${a}' is not of the form service:Action (e.g. ecs:Describe*).`,
      );
    }
    if (m[1] !== 'ecs' && m[1] !== 'bosun') {
      throw new InvalidParameterError(
        `Syntax error in the policy: ${where}: action '${a}': bosun serves the services ecs and bosun only.`,
      );
    }
    if (known !== undefined && !/[*?]/.test(a) && !known.has(a)) {
      throw new InvalidParameterError(
        `Syntax error in the policy: ${where}: '${a}' is not an action bosun knows.`,
      );
    }
  }
  const resourcePatterns = list(s.Resource ?? s.NotResource);
  for (const r of resourcePatterns) {
    if (r !== '*' && !r.startsWith('arn:')) {
      throw new InvalidParameterError(
        `Syntax error in the policy: ${where}: resource '${r}' must be '*' or an ARN (wildcards allowed).`,
      );
    }
  }
  const conditions: Statement['conditions'] = [];
  for (const [opName, byKey] of Object.entries(s.Condition ?? {})) {
    const ifExists = opName.endsWith('IfExists');
    const operator = (ifExists ? opName.slice(0, -'IfExists'.length) : opName) as Operator;
    if (!OPERATORS.includes(operator)) {
      throw new InvalidParameterError(
        `Syntax error in the policy: ${where}: condition operator '${opName}' is not one bosun evaluates (${OPERATORS.join(', ')}).`,
      );
    }
    for (const [keyName, values] of Object.entries(byKey)) {
      const key = keyName.toLowerCase() as ConditionKey;
      if (!CONDITION_KEYS.includes(key)) {
        throw new InvalidParameterError(
          `Syntax error in the policy: ${where}: condition key '${keyName}' is not one bosun sets (${CONDITION_KEYS.join(', ')}).`,
        );
      }
      conditions.push({ operator, ifExists, key, values: list(values) });
    }
  }
  return {
    effect: s.Effect,
    actions: { not: s.NotAction !== undefined, patterns: actionPatterns },
    resources: { not: s.NotResource !== undefined, patterns: resourcePatterns },
    conditions,
  };
}

/** What is asked: one action on one or more resources, with the request's condition keys. */
export interface AuthorizationRequest {
  /** `service:Action`, e.g. `ecs:CreateService`. */
  action: string;
  /** ARNs, or `*` for an action on no particular resource. */
  resources: readonly string[];
  context: Partial<Record<ConditionKey, string>>;
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

/**
 * IAM's evaluation for identity policies: for each resource, a matching Deny statement denies, else
 * a matching Allow allows, else the default is deny; the request is allowed only if every resource is.
 */
export function evaluatePolicy(policy: Pick<Policy, 'statements'>, req: AuthorizationRequest): Decision {
  const action = req.action.toLowerCase();
  let decision: Decision = 'Allow';
  for (const resource of req.resources.length === 0 ? ['*'] : req.resources) {
    let allowed = false;
    for (const s of policy.statements) {
      if (!statementMatches(s, action, resource, req.context)) continue;
      if (s.effect === 'Deny') return 'ExplicitDeny';
      allowed = true;
    }
    if (!allowed) decision = 'ImplicitDeny';
  }
  return decision;
}

function statementMatches(
  s: Statement,
  action: string,
  resource: string,
  context: AuthorizationRequest['context'],
): boolean {
  const actionHit = s.actions.patterns.some((p) => globMatch(p, action));
  if (actionHit === s.actions.not) return false;
  const resourceHit = s.resources.patterns.some((p) => globMatch(p, resource));
  if (resourceHit === s.resources.not) return false;
  return s.conditions.every((c) => conditionHolds(c, context[c.key]));
}

function conditionHolds(c: Statement['conditions'][number], value: string | undefined): boolean {
  // IAM: a missing key fails a positive operator and satisfies a negated one; IfExists makes it pass.
  const negated = c.operator.includes('Not');
  if (value === undefined) return c.ifExists || negated;
  const hit = c.values.some((v) => {
    switch (c.operator) {
      case 'StringEquals':
      case 'StringNotEquals':
      case 'ArnEquals':
      case 'ArnNotEquals':
        return v === value;
      case 'StringEqualsIgnoreCase':
      case 'StringNotEqualsIgnoreCase':
        return v.toLowerCase() === value.toLowerCase();
      default:
        return globMatch(v, value);
    }
  });
  return negated ? !hit : hit;
}

/**
 * IAM's wildcards: `*` any run of characters (also `:` and `/`), `?` any one character; everything
 * else literal. Greedy with one backtrack point, so linear-ish and never a regular expression built
 * from caller input.
 */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = v;
    } else if (p < pattern.length && (pattern[p] === '?' || pattern[p] === value[v])) {
      p++;
      v++;
    } else if (star !== -1) {
      p = star + 1;
      v = ++mark;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The permission RegisterTaskDefinition checks when a definition asks for an escape (escapesOf). */
export const PRIVILEGED_TASK_DEFINITION_ACTION = 'bosun:RegisterPrivilegedTaskDefinition';

/**
 * Named policies: what `create-access-key --read-only` and the default give, and the admin key's.
 * EcsFullAccess is every ECS action but none of bosun's own (keys, secrets, join tokens, the audit
 * log) and no escapes to the host: a key that could create keys could give itself anything.
 */
export const PRESET_POLICIES = {
  AdministratorAccess: {
    Version: '2012-10-17',
    Statement: [{ Sid: 'Everything', Effect: 'Allow', Action: '*', Resource: '*' }],
  },
  EcsFullAccess: {
    Version: '2012-10-17',
    Statement: [{ Sid: 'EveryEcsAction', Effect: 'Allow', Action: 'ecs:*', Resource: '*' }],
  },
  ReadOnly: {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'DescribeAndList', Effect: 'Allow', Action: ['ecs:Describe*', 'ecs:List*'], Resource: '*' },
    ],
  },
} as const satisfies Record<string, PolicyDocument>;
export type PresetName = keyof typeof PRESET_POLICIES;
