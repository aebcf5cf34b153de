import type { Tx } from './client.ts';

/**
 * A query built and prepared once per database handle (or transaction) instead of on every call, for
 * the hot reads of the ECS API. drizzle then skips building the SQL, and postgres.js sends a named
 * statement Postgres has parsed and planned already, in one round trip: a query with parameters that
 * is not prepared costs two (postgres.js describes it first to learn the parameter types).
 */
export function preparedPer<Q>(build: (tx: Tx) => Q): (tx: Tx) => Q {
  const built = new WeakMap<Tx, Q>();
  return (tx) => {
    let q = built.get(tx);
    if (q === undefined) {
      q = build(tx);
      built.set(tx, q);
    }
    return q;
  };
}
