import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { ContainerDefinition, DesiredTask } from '@bosun/model';
import { freePort } from '@bosun/testkit';
import Dockerode from 'dockerode';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LABEL } from './container-spec.ts';
import { createDockerController } from './controller.ts';
import { testContainer, testTask } from './test-task.ts';
import { DockerOperationError, type ObservedContainer } from './types.ts';

/**
 * Against the real Docker daemon with the local bosun/busybox image; nothing is pulled from a
 * registry (none is reachable) and every port is published on 127.0.0.1.
 */

const docker = new Dockerode();
const controller = createDockerController(docker, { eventsBackoffMs: { initial: 100, max: 1000 } });
const IMAGE = 'bosun/busybox:latest';
const instanceId = `test-${randomBytes(4).toString('hex')}`;
const ctx = { instanceId, hostIp: '127.0.0.1' };

const taskIds: string[] = [];
const servers: Server[] = [];
const stopWatchers: (() => void)[] = [];

function newTaskId(): string {
  const id = randomBytes(16).toString('hex');
  taskIds.push(id);
  return id;
}

async function cleanup(): Promise<void> {
  for (const stop of stopWatchers.splice(0)) stop();
  for (const s of servers.splice(0)) s.close();
  for (const taskId of taskIds.splice(0)) {
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.taskId}=${taskId}`] },
    });
    await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true })));
    await controller.removeTaskResources(taskId);
  }
}

afterEach(cleanup);
afterAll(cleanup);

const SERVE = (port: number) =>
  `mkdir -p /www && echo hello-bosun > /www/index.html && exec httpd -f -p ${port} -h /www`;

async function run(task: DesiredTask, container: ContainerDefinition): Promise<ObservedContainer> {
  const created = await controller.createContainer(task, container, ctx);
  await controller.startContainer(created.id);
  return created;
}

async function observed(id: string): Promise<ObservedContainer> {
  const found = (await controller.listTaskContainers(instanceId)).find((c) => c.id === id);
  if (!found) throw new Error(`container ${id} not listed`);
  return found;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function httpGet(url: string): Promise<string | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok ? res.text() : undefined;
}

async function expectOperationError(promise: Promise<unknown>): Promise<DockerOperationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DockerOperationError);
  if (!(err instanceof DockerOperationError)) throw new Error('unreachable');
  return err;
}

describe('DockerController against Docker', () => {
  it('runs a container reachable on its dynamic host port; creating twice adopts it', async () => {
    const taskId = newTaskId();
    const web = testContainer({
      name: 'web',
      command: ['sh', '-c', SERVE(8080)],
      portMappings: [{ containerPort: 8080, protocol: 'tcp' }],
      memory: 64,
    });
    const task = testTask(taskId, [web]);
    const first = await run(task, web);
    expect(first.name).toBe(`bosun-${taskId}-web`);
    expect(first).toMatchObject({ taskId, containerName: 'web', state: 'created' });

    const again = await controller.createContainer(task, web, ctx);
    expect(again.id).toBe(first.id);
    await controller.startContainer(first.id);

    const running = await observed(first.id);
    expect(running.state).toBe('running');
    expect(running.startedAt).toBeGreaterThan(0);
    expect(running.finishedAt).toBeUndefined();
    expect(running.networkBindings).toHaveLength(1);
    const binding = running.networkBindings[0];
    expect(binding).toMatchObject({ bindIP: '127.0.0.1', containerPort: 8080, protocol: 'tcp' });
    expect(binding?.hostPort).toBeGreaterThan(0);
    const body = await until('http', () => httpGet(`http://127.0.0.1:${binding?.hostPort}/`));
    expect(body.trim()).toBe('hello-bosun');

    const info = await docker.getContainer(first.id).inspect();
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.RestartPolicy?.Name).toBe('no');
    expect(info.Config.Labels[LABEL.managed]).toBe('true');
  });

  it('lists only the containers of the given instance', async () => {
    const taskId = newTaskId();
    const c = testContainer({ name: 'idle', command: ['sleep', '60'] });
    const mine = await controller.createContainer(testTask(taskId, [c]), c, ctx);
    const otherTask = newTaskId();
    const theirs = await controller.createContainer(testTask(otherTask, [c]), c, {
      ...ctx,
      instanceId: 'other',
    });

    const listed = (await controller.listTaskContainers(instanceId)).map((o) => o.id);
    expect(listed).toContain(mine.id);
    expect(listed).not.toContain(theirs.id);
    expect((await controller.listTaskContainers('other')).map((o) => o.id)).toContain(theirs.id);
  });

  it('stops with SIGTERM: a trapping container exits 0 at once, an ignoring one is killed after the timeout', async () => {
    const taskId = newTaskId();
    const polite = testContainer({
      name: 'polite',
      command: ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"],
    });
    const stubborn = testContainer({
      name: 'stubborn',
      command: ['sh', '-c', "trap '' TERM; while :; do sleep 1; done"],
    });
    const task = testTask(taskId, [polite, stubborn]);
    const a = await run(task, polite);
    const b = await run(task, stubborn);
    await until('running', async () => ((await observed(b.id)).state === 'running' ? true : undefined));

    let t0 = Date.now();
    await controller.stopContainer(a.id, 10);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await observed(a.id)).toMatchObject({ state: 'exited', exitCode: 0 });

    t0 = Date.now();
    await controller.stopContainer(b.id, 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    const killed = await observed(b.id);
    expect(killed).toMatchObject({ state: 'exited', exitCode: 137 });
    expect(killed.finishedAt).toBeGreaterThan(0);

    // Idempotent: stopping a stopped container, and stopping or removing a gone one, succeed.
    await controller.stopContainer(a.id, 1);
    await controller.removeContainer(a.id);
    await controller.removeContainer(a.id);
    await controller.stopContainer(a.id, 1);
    await controller.startContainer(b.id);
    await controller.startContainer(b.id);
  });

  it('turns a healthCheck into a Docker healthcheck that becomes healthy', async () => {
    const taskId = newTaskId();
    const c = testContainer({
      name: 'checked',
      command: ['sleep', '60'],
      healthCheck: { command: ['CMD-SHELL', 'test -d /'], interval: 1, timeout: 2, retries: 1 },
    });
    const created = await run(testTask(taskId, [c]), c);
    const health = await until('healthy', async () => {
      const o = await observed(created.id);
      return o.health === 'healthy' ? o.health : undefined;
    });
    expect(health).toBe('healthy');

    const plain = testContainer({ name: 'plain', command: ['sleep', '60'] });
    const p = await controller.createContainer(testTask(taskId, [plain]), plain, ctx);
    expect(p.health).toBeUndefined();
    const info = await docker.getContainer(p.id).inspect();
    expect(info.Config.Healthcheck?.Test).toEqual(['NONE']);
  });

  it('awsvpc: the containers of a task share one network namespace', async () => {
    const taskId = newTaskId();
    const port = await freePort();
    const server = testContainer({
      name: 'server',
      command: ['sh', '-c', SERVE(port)],
      portMappings: [{ containerPort: port, protocol: 'tcp' }],
    });
    const client = testContainer({
      name: 'client',
      command: [
        'sh',
        '-c',
        `for i in $(seq 1 100); do wget -q -O - http://localhost:${port}/ && exit 0; sleep 0.1; done; exit 1`,
      ],
    });
    const task = testTask(taskId, [server, client], { networkMode: 'awsvpc' });
    const s = await run(task, server);
    const c = await run(task, client);

    const done = await until('client exit', async () => {
      const o = await observed(c.id);
      return o.state === 'exited' ? o : undefined;
    });
    expect(done.exitCode).toBe(0);
    const serving = await observed(s.id);
    expect(serving.networkBindings).toEqual([
      { bindIP: '127.0.0.1', containerPort: port, hostPort: port, protocol: 'tcp' },
    ]);
    expect(await until('http', () => httpGet(`http://127.0.0.1:${port}/`))).toContain('hello-bosun');
    // The namespace holder is not one of the task's containers.
    const names = (await controller.listTaskContainers(instanceId)).map((o) => o.containerName);
    expect(names).not.toContain('');

    // After the namespace holder stopped (a daemon restart, say), starting the container again brings it back.
    await controller.stopContainer(s.id, 1);
    await docker.getContainer(`bosun-${taskId}-network`).stop({ t: 0 });
    await controller.startContainer(s.id);
    expect(await until('http again', () => httpGet(`http://127.0.0.1:${port}/`))).toContain('hello-bosun');

    await controller.removeContainer(s.id);
    await controller.removeContainer(c.id);
    await controller.removeTaskResources(taskId);
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.taskId}=${taskId}`] },
    });
    expect(left).toEqual([]);
  });

  it('creates task-scoped volumes and removes them with the task', async () => {
    const taskId = newTaskId();
    const writer = testContainer({
      name: 'writer',
      command: ['sh', '-c', 'echo data > /data/f'],
      mountPoints: [{ sourceVolume: 'scratch', containerPath: '/data', readOnly: false }],
    });
    const task = testTask(taskId, [writer], { volumes: [{ name: 'scratch', host: {} }] });
    const w = await run(task, writer);
    await until('exit', async () => ((await observed(w.id)).state === 'exited' ? true : undefined));
    const volume = await docker.getVolume(`bosun-${taskId}-scratch`).inspect();
    expect(volume.Labels?.[LABEL.taskId]).toBe(taskId);

    await controller.removeContainer(w.id);
    await controller.removeTaskResources(taskId);
    const gone = await docker
      .getVolume(`bosun-${taskId}-scratch`)
      .inspect()
      .then(
        () => false,
        () => true,
      );
    expect(gone).toBe(true);
  });

  describe('ensureImage (no registry is reachable)', () => {
    it('fails fast with CannotPullContainerError for a missing image', async () => {
      const t0 = Date.now();
      const err = await expectOperationError(controller.ensureImage('bosun/does-not-exist:1', 'default'));
      expect(err.reason).toMatch(/^CannotPullContainerError: /);
      expect(err.retryable).toBe(false);
      expect(Date.now() - t0).toBeLessThan(10_000);
    });

    it.each([
      ['default', { pulled: false }],
      ['once', { pulled: false }],
      ['prefer-cached', { pulled: false }],
    ] as const)('%s falls back to / prefers the cached image', async (behavior, expected) => {
      expect(await controller.ensureImage(IMAGE, behavior)).toEqual(expected);
    });

    it('always refuses a cached image it could not pull', async () => {
      const err = await expectOperationError(
        controller.ensureImage(IMAGE, 'always', { username: 'u', password: 'p' }),
      );
      expect(err.reason).toMatch(/^CannotPullContainerError: /);
    });

    it('abandons a pull that makes no progress (a registry that accepts and never answers)', async () => {
      const silent = createServer(() => undefined);
      servers.push(silent);
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const address = silent.address();
      if (typeof address !== 'object' || address === null) throw new Error('no port');
      const impatient = createDockerController(docker, { pullInactivityTimeoutMs: 1500 });
      const t0 = Date.now();
      const err = await expectOperationError(
        impatient.ensureImage(`127.0.0.1:${address.port}/bosun/hang:1`, 'always'),
      );
      expect(err.reason).toMatch(/^CannotPullContainerError: .*no progress/);
      expect(Date.now() - t0).toBeLessThan(5000);
    });

    it('shares one pull among concurrent asks for the same image (a wave of tasks)', async () => {
      let connections = 0;
      // A registry that hangs up at once: each pull fails after the connections Docker makes for it.
      const refusing = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      servers.push(refusing);
      await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
      const address = refusing.address();
      if (typeof address !== 'object' || address === null) throw new Error('no port');
      const image = `127.0.0.1:${address.port}/bosun/refused:1`;
      await expectOperationError(controller.ensureImage(image, 'always'));
      const onePull = connections;
      connections = 0;
      const errors = await Promise.all(
        Array.from({ length: 5 }, () => expectOperationError(controller.ensureImage(image, 'always'))),
      );
      expect(errors.map((e) => e.reason)).toEqual(Array(5).fill(errors[0]?.reason));
      expect(onePull).toBeGreaterThan(0);
      expect(connections).toBe(onePull);
    });

    it('prefer-cached pulls a missing image and fails', async () => {
      const err = await expectOperationError(
        controller.ensureImage('bosun/does-not-exist:1', 'prefer-cached'),
      );
      expect(err.reason).toMatch(/^CannotPullContainerError: /);
    });
  });

  it('reports a command that cannot run as CannotStartContainerError', async () => {
    const taskId = newTaskId();
    const c = testContainer({ name: 'bad', command: ['/no/such/binary'] });
    const created = await controller.createContainer(testTask(taskId, [c]), c, ctx);
    const err = await expectOperationError(controller.startContainer(created.id));
    expect(err.reason).toMatch(/^CannotStartContainerError: .*no such file or directory/);
    expect(err.retryable).toBe(false);
    const o = await observed(created.id);
    expect(o.error).toBeTruthy();
  });

  it('reports a taken host port as CannotStartContainerError naming the port', async () => {
    const taskId = newTaskId();
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no port');
    const c = testContainer({
      name: 'clash',
      command: ['sleep', '60'],
      portMappings: [{ containerPort: 80, hostPort: address.port, protocol: 'tcp' }],
    });
    const created = await controller.createContainer(testTask(taskId, [c]), c, ctx);
    const err = await expectOperationError(controller.startContainer(created.id));
    expect(err.reason).toMatch(/^CannotStartContainerError: /);
    expect(err.reason).toContain(String(address.port));
  });

  it('watchEvents sees start and die of bosun containers', async () => {
    const taskId = newTaskId();
    const seen: { id: string; action: string }[] = [];
    stopWatchers.push(controller.watchEvents((id, action) => seen.push({ id, action })));
    await new Promise((r) => setTimeout(r, 300));
    const c = testContainer({ name: 'brief', command: ['sh', '-c', 'exit 3'] });
    const created = await run(testTask(taskId, [c]), c);
    await until('die event', async () =>
      seen.some((e) => e.id === created.id && e.action === 'die') ? true : undefined,
    );
    const actions = seen.filter((e) => e.id === created.id).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['create', 'start', 'die']));
    expect((await observed(created.id)).exitCode).toBe(3);
  });

  it('with the event watch live, reuses inspects yet sees changes made behind its back', async () => {
    const taskId = newTaskId();
    const watched = createDockerController(docker, { eventsBackoffMs: { initial: 100, max: 1000 } });
    const seen: string[] = [];
    stopWatchers.push(watched.watchEvents((_id, action) => seen.push(action)));
    await new Promise((r) => setTimeout(r, 300));
    const c = testContainer({
      name: 'watched',
      command: ['sleep', '60'],
      healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ok'], interval: 1, timeout: 1, retries: 1 },
    });
    const created = await watched.createContainer(testTask(taskId, [c]), c, ctx);
    await watched.startContainer(created.id);
    const look = async () => (await watched.listTaskContainers(instanceId, taskId))[0];
    expect((await look())?.state).toBe('running');
    expect((await look())?.health).toBe('starting');
    // Health changes without bosun doing anything: Docker's list shows it, and so does the next look.
    await (await docker.getContainer(created.id).exec({ Cmd: ['touch', '/tmp/ok'] })).start({});
    await until('healthy', async () => ((await look())?.health === 'healthy' ? true : undefined));
    // Killed behind bosun's back: seen at once, exit code included (not a cached 'running').
    await docker.getContainer(created.id).kill();
    await until('die event', async () => (seen.includes('die') ? true : undefined));
    const after = await look();
    expect(after?.state).toBe('exited');
    expect(after?.exitCode).toBe(137);
  });
});
