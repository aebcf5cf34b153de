/** Formatting a cluster query back to text, in canonical form. */
import type { QueryAst, QuerySubject } from './ast.ts';
import { bareRegexEnd, bareValueEnd, DOUBLE_QUOTE, SINGLE_QUOTE } from './characters.ts';

/**
 * Prints an AST in canonical form: symbolic operators, `not(…)`, single quotes only where a value
 * needs them, parentheses only where the tree has nesting. Parsing the result gives an equal AST.
 */
export function formatClusterQuery(ast: QueryAst): string {
  switch (ast.kind) {
    case 'and':
      return ast.operands
        .map((o) =>
          o.kind === 'and' || o.kind === 'or' ? `(${formatClusterQuery(o)})` : formatClusterQuery(o),
        )
        .join(' and ');
    case 'or':
      return ast.operands
        .map((o) => (o.kind === 'or' ? `(${formatClusterQuery(o)})` : formatClusterQuery(o)))
        .join(' or ');
    case 'not':
      return `not(${formatClusterQuery(ast.operand)})`;
    case 'exists':
      return `${formatSubject(ast.subject)} ${ast.negated ? '!exists' : 'exists'}`;
    case 'equals': {
      const [only, ...rest] = ast.values;
      if (only !== undefined && rest.length === 0) {
        return `${formatSubject(ast.subject)} ${ast.negated ? '!=' : '=='} ${formatText(only.text, bareValueEnd)}`;
      }
      const list = ast.values.map((v) => formatText(v.text, bareValueEnd)).join(', ');
      return `${formatSubject(ast.subject)} ${ast.negated ? '!in' : 'in'} [${list}]`;
    }
    case 'compare':
      return `${formatSubject(ast.subject)} ${ast.operator} ${formatText(ast.value.text, bareValueEnd)}`;
    case 'matches':
      return `${formatSubject(ast.subject)} ${ast.negated ? '!~' : '=~'} ${formatText(ast.pattern, bareRegexEnd)}`;
  }
}

function formatSubject(subject: QuerySubject): string {
  return subject.kind === 'attribute' ? `attribute:${subject.name}` : subject.kind;
}

function formatText(text: string, bareEnd: (s: string, from: number) => number): string {
  const c = text.charCodeAt(0);
  const bare = text !== '' && c !== SINGLE_QUOTE && c !== DOUBLE_QUOTE && bareEnd(text, 0) === text.length;
  return bare ? text : `'${text.replaceAll("'", "''")}'`;
}
