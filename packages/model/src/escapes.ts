import type { TaskDefinitionSpec } from './task-definition.ts';

/**
 * What a task definition asks for that reaches past its container into the host: the things Nomad's
 * docker plugin refuses unless the client allows them. One list, read by both sides: the control
 * plane asks for a permission before it registers a definition with any of these, and the agent
 * refuses to run one its host policy does not allow (`refusedEscapes`).
 *
 * Pure, and no zod: the agent imports it by its subpath (`@bosun/model/escapes`).
 */
export type EscapeKind =
  | 'privileged'
  | 'hostPath'
  | 'capability'
  | 'hostNamespace'
  | 'volumeDriverOptions'
  | 'sharedVolume';

export interface Escape {
  kind: EscapeKind;
  /** What exactly: the container, path, capability, namespace or volume, for a refusal's reason. */
  detail: string;
}

/**
 * Docker's default capability set (moby's `oci/caps/defaults.go`): adding one of these changes
 * nothing, so it is not an escape.
 */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'NET_RAW',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];

/** `cap_sys_admin`, `CAP_SYS_ADMIN` and `SYS_ADMIN` are one capability to Docker. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

/**
 * Docker's `local` driver mounts whatever its options say: `type=none,o=bind,device=/` is a bind mount
 * of `/`, and `device=/dev/sda1` a block device. Any of these options is an escape.
 */
function driverOptionEscapes(opts: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [key, value] of Object.entries(opts)) {
    const k = key.toLowerCase();
    const v = value.toLowerCase();
    if (k === 'device') found.push(`device=${value}`);
    else if (k === 'type' && (v === 'none' || v === 'bind')) found.push(`type=${value}`);
    else if (k === 'o' && v.split(',').some((o) => o.trim() === 'bind' || o.trim() === 'rbind')) {
      found.push(`o=${value}`);
    }
  }
  return found;
}

/** Everything in the definition that reaches the host, in a stable order. */
export function escapesOf(
  def: Pick<TaskDefinitionSpec, 'containerDefinitions' | 'volumes' | 'networkMode' | 'pidMode' | 'ipcMode'>,
): Escape[] {
  const out: Escape[] = [];
  if (def.networkMode === 'host') out.push({ kind: 'hostNamespace', detail: 'networkMode host' });
  if (def.pidMode === 'host') out.push({ kind: 'hostNamespace', detail: 'pidMode host' });
  if (def.ipcMode === 'host') out.push({ kind: 'hostNamespace', detail: 'ipcMode host' });
  for (const c of def.containerDefinitions) {
    if (c.privileged) out.push({ kind: 'privileged', detail: `container '${c.name}'` });
    for (const cap of c.linuxParameters?.capabilities?.add ?? []) {
      const name = normalizeCapability(cap);
      if (!DOCKER_DEFAULT_CAPABILITIES.includes(name)) {
        out.push({ kind: 'capability', detail: `${name} (container '${c.name}')` });
      }
    }
  }
  for (const v of def.volumes) {
    if (v.host?.sourcePath !== undefined) {
      out.push({ kind: 'hostPath', detail: v.host.sourcePath });
    }
    const config = v.dockerVolumeConfiguration;
    if (config === undefined) continue;
    const opts = driverOptionEscapes(config.driverOpts ?? {});
    if (opts.length > 0) {
      out.push({
        kind: 'volumeDriverOptions',
        detail: `volume '${v.name}' (driver ${config.driver ?? 'local'}): ${opts.join(', ')}`,
      });
    }
    if (config.scope === 'shared') out.push({ kind: 'sharedVolume', detail: v.name });
  }
  return out;
}

/** What a host allows; the agent's settings (apps/agent/src/config.ts). */
export interface HostPolicy {
  allowPrivileged: boolean;
  /** Host paths tasks may bind, each with everything under it; empty = none. */
  allowedHostPaths: readonly string[];
  /** Capabilities beyond Docker's default set that tasks may add; `ALL` allows any. */
  allowedCapabilities: readonly string[];
  /** Host pid, ipc and network namespaces. */
  allowHostNamespaces: boolean;
  /** `local` driver options that bind or mount a device. */
  allowVolumeDriverOptions: boolean;
  /** Any shared named volume, even one bosun did not create. */
  allowSharedVolumes: boolean;
  /**
   * Shared volumes that may be used even without allowSharedVolumes: the agent fills this with the
   * named volumes that carry bosun's label (or do not exist yet, so bosun creates them labelled).
   */
  bosunVolumes?: ReadonlySet<string>;
}

export const DEFAULT_HOST_POLICY: HostPolicy = {
  allowPrivileged: false,
  allowedHostPaths: [],
  allowedCapabilities: [],
  allowHostNamespaces: false,
  allowVolumeDriverOptions: false,
  allowSharedVolumes: false,
};

/**
 * `/srv/data/../../etc` → `/etc`: compared after `.` and `..` are resolved, so a path cannot climb
 * out of an allowed directory. Symbolic links on the host are not followed here (no I/O).
 */
export function normalizeHostPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** `path` is `dir` or inside it (by whole path segments: /srv/data does not allow /srv/database). */
export function hostPathAllowed(path: string, allowed: readonly string[]): boolean {
  const p = normalizeHostPath(path);
  return allowed.some((a) => {
    const dir = normalizeHostPath(a);
    return dir === '/' || p === dir || p.startsWith(`${dir}/`);
  });
}

/** The escapes the host refuses, in the order given; empty = the task may run here. */
export function refusedEscapes(escapes: readonly Escape[], policy: HostPolicy): Escape[] {
  const caps = new Set(policy.allowedCapabilities.map(normalizeCapability));
  return escapes.filter((e) => {
    switch (e.kind) {
      case 'privileged':
        return !policy.allowPrivileged;
      case 'hostPath':
        return !hostPathAllowed(e.detail, policy.allowedHostPaths);
      case 'capability':
        return !caps.has('ALL') && !caps.has(normalizeCapability(e.detail.split(' ')[0] ?? ''));
      case 'hostNamespace':
        return !policy.allowHostNamespaces;
      case 'volumeDriverOptions':
        return !policy.allowVolumeDriverOptions;
      case 'sharedVolume':
        return !policy.allowSharedVolumes && !(policy.bosunVolumes?.has(e.detail) ?? false);
    }
    return true;
  });
}

/** The agent setting that would allow each kind, named in a refusal so the operator knows the way. */
const SETTING: Record<EscapeKind, string> = {
  privileged: 'BOSUN_ALLOW_PRIVILEGED=1',
  hostPath: 'BOSUN_ALLOWED_HOST_PATHS',
  capability: 'BOSUN_ALLOWED_CAPABILITIES',
  hostNamespace: 'BOSUN_ALLOW_HOST_NAMESPACES=1',
  volumeDriverOptions: 'BOSUN_ALLOW_VOLUME_DRIVER_OPTIONS=1',
  sharedVolume: 'BOSUN_ALLOW_SHARED_VOLUMES=1',
};

const LABEL: Record<EscapeKind, string> = {
  privileged: 'privileged',
  hostPath: 'host path',
  capability: 'capability',
  hostNamespace: 'host namespace',
  volumeDriverOptions: 'volume driver options',
  sharedVolume: 'shared volume not created by bosun',
};

/** The stoppedReason of a refused task: every refused escape, and the setting that allows it. */
export function refusalReason(refused: readonly Escape[]): string {
  const items = refused.map((e) => `${LABEL[e.kind]} ${e.detail} (${SETTING[e.kind]})`);
  return `HostPolicyRefused: this host does not allow ${items.join('; ')}`;
}

/** One sentence naming each escape, for the control plane's AccessDenied message. */
export function describeEscapes(escapes: readonly Escape[]): string {
  return escapes.map((e) => `${LABEL[e.kind]} ${e.detail}`).join('; ');
}
