import { randomBytes } from 'node:crypto';
import { docker, type Stack, type StackAgent, startStack, type Task } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Hosts refuse escapes unless they allow them (issue 18): a default agent refuses a privileged task,
 * `/` as a host path and a `local` volume with bind options before it creates anything in Docker; an
 * agent whose settings allow them runs the same task definitions. Two agents on the same Docker, the
 * tasks sent to one or the other with StartTask, all through the real aws CLI.
 */
let stack: Stack;
let strict: StackAgent;
let lenient: StackAgent;
const suffix = randomBytes(4).toString('hex');
const unlabelled = `bosun-e2e-unlabelled-${suffix}`;
/** Labelled as another task's task-scoped volume: bosun's, but not for sharing. */
const taskScoped = `bosun-e2e-taskscoped-${suffix}`;
/** A shared volume bosun made. */
const bosunShared = `bosun-e2e-shared-${suffix}`;
const sharedVolumeTask = (name: string) => ({
  // A shared volume's name in the definition is the Docker volume's name.
  containerDefinitions: [busybox({ mountPoints: [{ sourceVolume: name, containerPath: '/data' }] })],
  volumes: [{ name, dockerVolumeConfiguration: { scope: 'shared', autoprovision: false } }],
});

const busybox = (extra: Record<string, unknown> = {}) => ({
  name: 'main',
  image: 'bosun/busybox:latest',
  memory: 16,
  command: ['sleep', '3600'],
  stopTimeout: 2,
  ...extra,
});

const definitions: Record<string, Record<string, unknown>> = {
  privileged: { containerDefinitions: [busybox({ privileged: true })] },
  'host-root': {
    containerDefinitions: [
      busybox({ mountPoints: [{ sourceVolume: 'root', containerPath: '/host', readOnly: true }] }),
    ],
    volumes: [{ name: 'root', host: { sourcePath: '/' } }],
  },
  'bind-volume': {
    containerDefinitions: [
      busybox({ mountPoints: [{ sourceVolume: 'etc', containerPath: '/host-etc', readOnly: true }] }),
    ],
    volumes: [
      {
        name: 'etc',
        dockerVolumeConfiguration: {
          scope: 'task',
          driver: 'local',
          driverOpts: { type: 'none', o: 'bind', device: '/etc' },
        },
      },
    ],
  },
  'unlabelled-shared': sharedVolumeTask(unlabelled),
  'task-scoped-as-shared': sharedVolumeTask(taskScoped),
  'bosun-shared': sharedVolumeTask(bosunShared),
};
const taskIdOf = (arn: string) => arn.split('/').pop() ?? '';

async function startOn(agent: StackAgent, family: string): Promise<string> {
  const out = (await stack.aws(
    'start-task',
    '--task-definition',
    family,
    '--container-instances',
    agent.instanceId(),
  )) as { tasks: Task[]; failures: unknown[] };
  const arn = out.tasks[0]?.taskArn;
  if (!arn) throw new Error(`start-task ${family} started nothing: ${JSON.stringify(out.failures)}`);
  return arn;
}

/** What Docker has of a task: its containers and its task-scoped volumes. */
async function inDocker(taskId: string) {
  const containers = (await docker('ps', '-aq', '--filter', `label=bosun.task-id=${taskId}`))
    .split('\n')
    .filter(Boolean);
  const volumes = (await docker('volume', 'ls', '-q', '--filter', `label=bosun.task-id=${taskId}`))
    .split('\n')
    .filter(Boolean);
  return { containers, volumes };
}

beforeAll(async () => {
  stack = await startStack();
  strict = stack.agents[0] as StackAgent;
  lenient = await stack.addAgent({
    BOSUN_ALLOW_PRIVILEGED: '1',
    BOSUN_ALLOWED_HOST_PATHS: '/',
    BOSUN_ALLOW_VOLUME_DRIVER_OPTIONS: '1',
  });
  await docker('volume', 'create', unlabelled);
  await docker(
    'volume',
    'create',
    '--label',
    'bosun.managed=true',
    '--label',
    'bosun.volume-scope=task',
    taskScoped,
  );
  await docker(
    'volume',
    'create',
    '--label',
    'bosun.managed=true',
    '--label',
    'bosun.volume-scope=shared',
    bosunShared,
  );
  for (const [family, def] of Object.entries(definitions)) {
    await stack.aws(
      'register-task-definition',
      '--family',
      family,
      '--container-definitions',
      JSON.stringify(def.containerDefinitions),
      ...(def.volumes ? ['--volumes', JSON.stringify(def.volumes)] : []),
    );
  }
}, 180_000);

afterAll(async () => {
  await stack?.close();
  const volumes = (
    await docker('volume', 'ls', '-q', '--filter', 'label=bosun.volume-scope=task').catch(() => '')
  )
    .split('\n')
    .filter((v) => v.startsWith('bosun-'));
  for (const v of volumes) await docker('volume', 'rm', v).catch(() => '');
  for (const v of [unlabelled, taskScoped, bosunShared]) await docker('volume', 'rm', v).catch(() => '');
}, 120_000);

describe('a default agent refuses escapes; an agent that allows them runs them', () => {
  const refusals: [string, RegExp][] = [
    ['privileged', /privileged container 'main' \(BOSUN_ALLOW_PRIVILEGED=1\)/],
    ['host-root', /host path \/ \(BOSUN_ALLOWED_HOST_PATHS\)/],
    ['bind-volume', /volume driver options volume 'etc' \(driver local\): .*device=\/etc/],
    ['unlabelled-shared', new RegExp(`shared volume not created by bosun ${unlabelled}`)],
    ['task-scoped-as-shared', new RegExp(`shared volume not created by bosun ${taskScoped}`)],
  ];
  it.each(refusals)(
    '%s: STOPPED TaskFailedToStart with the reason, nothing created in Docker',
    async (family, reason) => {
      const arn = await startOn(strict, family);
      const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 30_000);
      expect(task.stopCode).toBe('TaskFailedToStart');
      expect(task.stoppedReason).toMatch(/^HostPolicyRefused: /);
      expect(task.stoppedReason).toMatch(reason);
      expect(await inDocker(taskIdOf(arn))).toEqual({ containers: [], volumes: [] });
    },
    60_000,
  );

  it('the agent that allows privileged creates the container privileged', async () => {
    const arn = await startOn(lenient, 'privileged');
    // Accepted = handed to Docker as asked. Whether Docker can then start it depends on where it runs
    // (a Docker inside an unprivileged container cannot apply every capability), so the test waits
    // for the container, not for RUNNING, and checks that no host policy stopped it.
    const task = await stack.waitForTask(arn, (t) => t.containers[0]?.runtimeId !== undefined, 40_000);
    expect(task.stoppedReason ?? '').not.toMatch(/HostPolicyRefused/);
    const id = task.containers[0]?.runtimeId ?? '';
    expect(await docker('inspect', '-f', '{{.HostConfig.Privileged}}', id)).toBe('true');
  }, 60_000);

  it('the agent that allows / binds it, through a Docker mount (not a Binds string)', async () => {
    const arn = await startOn(lenient, 'host-root');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING', 40_000);
    const id = task.containers[0]?.runtimeId ?? '';
    expect(await docker('inspect', '-f', '{{json .HostConfig.Binds}}', id)).toBe('null');
    const mounts = JSON.parse(await docker('inspect', '-f', '{{json .HostConfig.Mounts}}', id));
    expect(mounts).toEqual([
      expect.objectContaining({ Type: 'bind', Source: '/', Target: '/host', ReadOnly: true }),
    ]);
  }, 60_000);

  it('the agent that allows volume driver options runs the bind volume', async () => {
    const arn = await startOn(lenient, 'bind-volume');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING', 40_000);
    expect(task.containers[0]?.lastStatus).toBe('RUNNING');
  }, 60_000);

  it('the default agent runs a task on a shared volume bosun made', async () => {
    const arn = await startOn(strict, 'bosun-shared');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING', 40_000);
    expect(task.containers[0]?.lastStatus).toBe('RUNNING');
  }, 60_000);
});
