import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

const INSTANCE_PREFIX = 'bosun:instance:';

/** Redis channels; the instance one is part of the agent protocol's design (packages/model/AGENT-PROTOCOL.md). */
export const channels = {
  /** Published after every commit that changes what an instance should run. */
  instance: (instanceId: string) => `${INSTANCE_PREFIX}${instanceId}`,
  /** Published after the placement worker commits a request's outcome. */
  placement: (requestId: string) => `bosun:placement:${requestId}`,
};
const PATTERNS = [`${INSTANCE_PREFIX}*`, 'bosun:placement:*'];

type Waiter = () => void;

/**
 * Wake-ups across control-plane processes. Each process holds one subscriber connection with two
 * pattern subscriptions made at start-up and fans messages out to its local waiters; so a waiter never
 * has to subscribe per request, and there is no window between "subscribed" and "checked the database"
 * in which a message could be missed.
 *
 * A message carries no data: it only says "look at Postgres again". A lost message (Redis restart)
 * costs at most one long-poll period, after which the waiter reads Postgres anyway.
 */
export class Notifier {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly ready: Promise<unknown>;
  /** Messages received per instance channel (one entry per instance), see `mark`. */
  private readonly received = new Map<string, number>();
  /** Bumped at every (re)connection of the subscriber: messages may have been lost in between. */
  private connection = 0;
  private offlineMarks = 0;

  constructor(
    private readonly subscriber: Redis,
    private readonly publisher: Redis,
    private readonly log: FastifyBaseLogger,
  ) {
    this.subscriber.on('ready', () => {
      this.connection += 1;
    });
    this.subscriber.on('pmessage', (_pattern: string, channel: string) => {
      if (channel.startsWith(INSTANCE_PREFIX))
        this.received.set(channel, (this.received.get(channel) ?? 0) + 1);
      const set = this.waiters.get(channel);
      if (set === undefined) return;
      for (const wake of [...set]) wake();
    });
    this.ready = this.subscriber.psubscribe(...PATTERNS);
    // ioredis re-subscribes on reconnect by itself; an early failure shows up in waitUntilReady.
    this.ready.catch((err: unknown) => this.log.error({ err }, 'redis subscription failed'));
  }

  /**
   * Where an instance channel's messages stand: two equal marks taken at different times mean no
   * message came in between (and the subscriber did not reconnect, which may have lost some). While
   * the subscriber is not connected, no mark equals another: nothing can be known to be missed.
   */
  mark(channel: string): string {
    if (this.subscriber.status !== 'ready') return `offline:${++this.offlineMarks}`;
    return `${this.connection}:${this.received.get(channel) ?? 0}`;
  }

  /** Resolves once the subscriptions are in place: a message published after this is not missed. */
  async waitUntilReady(): Promise<void> {
    await this.ready;
  }

  /**
   * Registers the waiter, then runs `check`; when it returns true there is nothing to wait for.
   * Otherwise waits for a message on `channel`, the timeout or the abort signal. Registering first
   * means a publish that races with the check still wakes the waiter.
   */
  async waitFor(
    channel: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    check: () => Promise<boolean>,
  ): Promise<{ woken: boolean; satisfied: boolean }> {
    await this.ready;
    let wake: Waiter = () => {};
    const woken = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
    });
    let set = this.waiters.get(channel);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(channel, set);
    }
    set.add(wake);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      if (await check()) return { woken: false, satisfied: true };
      if (signal?.aborted) return { woken: false, satisfied: false };
      const ended = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        onAbort = () => resolve(false);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      return { woken: await Promise.race([woken, ended]), satisfied: false };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(channel);
    }
  }

  /** Call after the commit: a subscriber that reads Postgres on the message must see the change. */
  async publish(channel: string): Promise<void> {
    try {
      await this.publisher.publish(channel, '');
    } catch (err) {
      // The change is committed; waiters find it at their next poll. Not worth failing the caller.
      this.log.warn({ err, channel }, 'redis publish failed');
    }
  }

  /** Many channels in one round trip (a placement batch wakes hundreds of agents and callers). */
  async publishAll(list: readonly string[]): Promise<void> {
    if (list.length === 0) return;
    const pipeline = this.publisher.pipeline();
    for (const channel of list) pipeline.publish(channel, '');
    try {
      await pipeline.exec();
    } catch (err) {
      this.log.warn({ err, channels: list.length }, 'redis publish failed');
    }
  }

  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const wake of set) wake();
    this.subscriber.disconnect();
  }
}
