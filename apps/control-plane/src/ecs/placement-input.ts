import {
  InvalidParameterError,
  type PlacementConstraint,
  type PlacementStrategy,
  type SpreadField,
  type StoredPlacementConstraint,
  type StoredPlacementStrategy,
  type TaskDefinitionSpec,
} from '@bosun/model';
import { parseClusterQuery, type QueryAst } from '@bosun/scheduler';

/**
 * The checks on placement a caller gives (RunTask, CreateService, UpdateService, a task definition's
 * constraints, ListContainerInstances' filter), made before anything is stored, so a typo fails the
 * call rather than a placement later.
 */

/** A cluster query, or InvalidParameterException naming where it was given and where it fails. */
export function parseClusterQueryAt(where: string, expression: string): QueryAst {
  const parsed = parseClusterQuery(expression);
  if (!parsed.ok) {
    throw new InvalidParameterError(`${where}: ${parsed.error.message} (position ${parsed.error.position}).`);
  }
  return parsed.value;
}

/**
 * RunTask's or CreateService's constraints (plus, when given, the task definition's own memberOf
 * ones), each checked and kept as text; a memberOf that does not parse names its position.
 */
export function compileConstraints(
  given: readonly PlacementConstraint[],
  spec: TaskDefinitionSpec | undefined,
): StoredPlacementConstraint[] {
  const out: StoredPlacementConstraint[] = [];
  const all = [
    ...given.map((c, i) => ({ ...c, where: `placementConstraints[${i}]` })),
    ...(spec?.placementConstraints ?? []).map((c, i) => ({
      ...c,
      where: `taskDefinition.placementConstraints[${i}]`,
    })),
  ];
  for (const c of all) {
    if (c.type === 'distinctInstance') {
      out.push({ type: 'distinctInstance' });
      continue;
    }
    if (c.expression === undefined || c.expression.trim() === '') {
      throw new InvalidParameterError(`${c.where}: a memberOf constraint needs an expression.`);
    }
    parseClusterQueryAt(`${c.where}.expression`, c.expression);
    out.push({ type: 'memberOf', expression: c.expression });
  }
  return out;
}

const isSpreadField = (field: string): field is SpreadField =>
  field === 'instanceId' || field === 'host' || /^attribute:[a-zA-Z0-9_.:/-]{1,128}$/.test(field);

export function compileStrategy(given: readonly PlacementStrategy[]): StoredPlacementStrategy[] {
  return given.map((s, i) => {
    const field = s.field ?? '';
    switch (s.type) {
      case 'random':
        return { type: 'random' };
      case 'binpack': {
        const lower = field.toLowerCase();
        if (lower !== 'cpu' && lower !== 'memory') {
          throw new InvalidParameterError(`placementStrategy[${i}]: binpack takes field cpu or memory.`);
        }
        return { type: 'binpack', field: lower };
      }
      default: {
        if (!isSpreadField(field)) {
          throw new InvalidParameterError(
            `placementStrategy[${i}]: spread takes field instanceId, host or attribute:NAME.`,
          );
        }
        return { type: 'spread', field };
      }
    }
  });
}
