import type Dockerode from 'dockerode';
import { LABEL } from './container-spec.ts';
import { onJsonLines, streamFinished } from './json-lines.ts';

const DEFAULT_BACKOFF = { initial: 500, max: 30_000 };

/**
 * Follows Docker's event stream for bosun's containers and reconnects with doubling back-off when it
 * breaks (daemon restart, socket error). On reconnect it asks for events since the last one seen, so
 * a short outage loses nothing; a repeated event only causes one more relist downstream.
 * Healthcheck runs show up as exec_* events every interval: they carry no state and are dropped.
 * `onLive` says when the stream is connected, and so when no change can pass unseen.
 */
export function watchDockerEvents(
  docker: Dockerode,
  onChange: (containerId: string, action: string) => void,
  backoff: { initial: number; max: number } = DEFAULT_BACKOFF,
  onLive: (live: boolean) => void = () => {},
): () => void {
  let stopped = false;
  let stream: NodeJS.ReadableStream | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = backoff.initial;
  let since: number | undefined;

  const handle = (event: unknown) => {
    const parsed = parseEvent(event);
    if (!parsed) return;
    since = parsed.time;
    delay = backoff.initial;
    if (!parsed.action.startsWith('exec_')) onChange(parsed.id, parsed.action);
  };

  const connect = async () => {
    if (stopped) return;
    try {
      const s = await docker.getEvents({
        since,
        filters: { type: ['container'], label: [`${LABEL.managed}=true`] },
      });
      if (stopped) return destroy(s);
      stream = s;
      onLive(true);
      onJsonLines(s, handle);
      await streamFinished(s);
    } catch {
      // Docker unreachable or the stream broke: the reconnect below covers both.
    }
    if (stream) onLive(false);
    stream = undefined;
    if (stopped) return;
    timer = setTimeout(() => void connect(), delay);
    delay = Math.min(delay * 2, backoff.max);
  };

  void connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    const s = stream;
    stream = undefined;
    if (s) {
      onLive(false);
      destroy(s);
    }
  };
}

function destroy(stream: NodeJS.ReadableStream): void {
  if ('destroy' in stream && typeof stream.destroy === 'function') stream.destroy();
}

function parseEvent(event: unknown): { id: string; action: string; time: number } | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const e = event as {
    id?: unknown;
    Action?: unknown;
    status?: unknown;
    time?: unknown;
    Actor?: { ID?: unknown };
  };
  const id = typeof e.Actor?.ID === 'string' ? e.Actor.ID : e.id;
  const action = typeof e.Action === 'string' ? e.Action : e.status;
  if (typeof id !== 'string' || typeof action !== 'string') return undefined;
  return { id, action, time: typeof e.time === 'number' ? e.time : Math.floor(Date.now() / 1000) };
}
