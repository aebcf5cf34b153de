/**
 * At most `limit` of the functions given to `run` at once; the others wait their turn, first come
 * first served. A limit of 0 means none. (A few lines rather than p-limit: the agent ships as one
 * small bundle, apps/agent/build.ts.)
 */
export class ConcurrencyLimit {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.limit > 0 && this.#active >= this.limit) {
      // The slot is handed over by the one that frees it, so #active stays as it is.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
