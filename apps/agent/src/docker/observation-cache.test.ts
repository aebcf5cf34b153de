import { describe, expect, it } from 'vitest';
import { healthInStatus, ObservationCache } from './observation-cache.ts';
import type { ObservedContainer } from './types.ts';

const running: ObservedContainer = {
  id: 'c1',
  name: 'ecs-web-1-main',
  taskId: 't1',
  containerName: 'main',
  state: 'running',
  oomKilled: false,
  networkBindings: [],
  imageId: 'sha256:abc',
};
const listed = { Id: 'c1', State: 'running', Status: 'Up 3 seconds' };

function liveCache(now = { t: 0 }): ObservationCache {
  const cache = new ObservationCache(30_000, () => now.t);
  cache.setLive(true);
  return cache;
}

describe('healthInStatus', () => {
  it.each([
    ['Up 3 seconds', undefined],
    ['Up 3 seconds (health: starting)', 'starting'],
    ['Up 2 minutes (healthy)', 'healthy'],
    ['Up 2 minutes (unhealthy)', 'unhealthy'],
    ['Exited (137) 2 seconds ago', undefined],
    ['Created', undefined],
  ])('%s → %s', (status, health) => {
    expect(healthInStatus(status)).toBe(health);
  });
});

describe('ObservationCache', () => {
  it('reuses an inspect while the list shows the same state and health', () => {
    const cache = liveCache();
    cache.store(running, cache.generation('c1'));
    expect(cache.lookup(listed)).toBe(running);
  });

  it.each([
    ['the state changed', { ...listed, State: 'exited', Status: 'Exited (0) 1 second ago' }],
    ['the health changed', { ...listed, Status: 'Up 9 seconds (healthy)' }],
  ])('inspects again when %s', (_why, summary) => {
    const cache = liveCache();
    cache.store(running, cache.generation('c1'));
    expect(cache.lookup(summary)).toBeUndefined();
    // …and the stale entry is gone for good, not only for that look.
    expect(cache.lookup(listed)).toBeUndefined();
  });

  it('trusts nothing while the event stream is down, nor what was cached before it broke', () => {
    const cache = new ObservationCache(30_000);
    cache.store(running, cache.generation('c1'));
    expect(cache.lookup(listed)).toBeUndefined();
    cache.setLive(true);
    cache.store(running, cache.generation('c1'));
    cache.setLive(false);
    cache.setLive(true);
    expect(cache.lookup(listed)).toBeUndefined();
  });

  it('drops an entry on an event for its container or for the network container it shares', () => {
    const cache = liveCache();
    cache.store(running, cache.generation('c1'), 'holder');
    cache.invalidate('holder');
    expect(cache.lookup(listed)).toBeUndefined();
    cache.store(running, cache.generation('c1'));
    cache.invalidate('c1');
    expect(cache.lookup(listed)).toBeUndefined();
  });

  it('does not store an inspect that was in flight when its container changed', () => {
    const cache = liveCache();
    const before = cache.generation('c1');
    cache.invalidate('c1'); // the event arrives while the inspect is on its way
    cache.store(running, before);
    expect(cache.lookup(listed)).toBeUndefined();
  });

  it('inspects again after maxAge, and forgets containers that are no longer listed', () => {
    const now = { t: 0 };
    const cache = liveCache(now);
    cache.store(running, cache.generation('c1'));
    now.t = 30_001;
    expect(cache.lookup(listed)).toBeUndefined();
    cache.store(running, cache.generation('c1'));
    cache.retainOnly(new Set(['c2']));
    expect(cache.lookup(listed)).toBeUndefined();
  });
});
