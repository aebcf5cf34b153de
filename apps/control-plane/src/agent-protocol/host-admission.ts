import type { InstanceAttribute } from '@bosun/model';
import type { QueryAst } from '@bosun/scheduler';

/**
 * What a joining host may claim about itself. Pure; registration.ts does the reading.
 *
 * - Capacity: the agent declares what Docker reports (NCPU, MemTotal); a join token may cap both,
 *   and the declared values are clamped into (0, cap], so a host cannot attract more than its token
 *   allows however large the numbers it sends.
 * - Attributes: names admins use for isolation are theirs, set only with PutAttributes. A host may
 *   not declare any `bosun.*` attribute but the four its agent derives, any name matching
 *   BOSUN_RESERVED_ATTRIBUTES, nor any attribute a memberOf constraint of a live service reads.
 *   The agent-derived ones are exempt from the last rule (every agent sends them): they say what the
 *   host claims, so isolation should use attributes set through PutAttributes.
 */

/** The attributes every agent derives from its host (apps/agent/src/host.ts). */
export const AGENT_ATTRIBUTES: readonly string[] = [
  'bosun.os-type',
  'bosun.cpu-architecture',
  'bosun.hostname',
  'bosun.zone',
];

export interface Capacity {
  cpu: number;
  memory: number;
}

/** The declared capacity clamped to the token's caps (absent cap = the declared value). */
export function clampCapacity(
  declared: Capacity,
  caps: { maxCpu?: number | null; maxMemory?: number | null },
): Capacity {
  const clamp = (value: number, cap: number | null | undefined) =>
    Math.max(1, cap === undefined || cap === null ? value : Math.min(value, cap));
  return { cpu: clamp(declared.cpu, caps.maxCpu), memory: clamp(declared.memory, caps.maxMemory) };
}

/** Every attribute name an expression reads (`attribute:NAME`). */
export function attributeNamesOf(ast: QueryAst): string[] {
  switch (ast.kind) {
    case 'and':
    case 'or':
      return ast.operands.flatMap(attributeNamesOf);
    case 'not':
      return attributeNamesOf(ast.operand);
    default:
      return ast.subject.kind === 'attribute' ? [ast.subject.name] : [];
  }
}

/** `team` matches `team`; `tenant.*` matches `tenant.a` and `tenant.b.c`; case-insensitive. */
export function matchesPattern(name: string, pattern: string): boolean {
  const n = name.toLowerCase();
  const p = pattern.toLowerCase();
  return p.endsWith('*') ? n.startsWith(p.slice(0, -1)) : n === p;
}

export interface AttributeRules {
  /** BOSUN_RESERVED_ATTRIBUTES: names, or prefixes ending in `*`. */
  reserved: readonly string[];
  /** Names read by memberOf constraints of the cluster's live services. */
  usedByConstraints: readonly string[];
}

/** Why each refused attribute may not be declared by a host; empty = all may. */
export function refusedAttributes(
  attributes: readonly Pick<InstanceAttribute, 'name'>[],
  rules: AttributeRules,
): { name: string; why: string }[] {
  const used = new Set(rules.usedByConstraints.map((n) => n.toLowerCase()));
  const out: { name: string; why: string }[] = [];
  for (const { name } of attributes) {
    const lower = name.toLowerCase();
    if (AGENT_ATTRIBUTES.includes(lower)) continue;
    if (lower.startsWith('bosun.')) out.push({ name, why: 'bosun.* attributes are reserved to bosun' });
    else if (rules.reserved.some((p) => matchesPattern(name, p))) {
      out.push({ name, why: 'reserved by BOSUN_RESERVED_ATTRIBUTES' });
    } else if (used.has(lower)) out.push({ name, why: "read by a service's memberOf placement constraint" });
  }
  return out;
}
