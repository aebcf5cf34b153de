import type { TaskDefinitionSpec } from './task-definition.ts';

/**
 * What a task definition asks for that reaches past its container to the host: the one list both
 * the control plane (RegisterTaskDefinition needs `bosun:RegisterPrivilegedTaskDefinition` for any of
 * these) and the agent (refuses them unless the host allows them) decide on. Pure, and imports only
 * types, so the agent loads it without zod (`@bosun/model/escapes`).
 */
export type EscapeKind =
  /** `privileged: true`: every device and capability of the host. */
  | 'privileged'
  /** A bind of a host path (`volumes[].host.sourcePath`). */
  | 'hostPath'
  /** A capability added beyond Docker's default set (or ALL). */
  | 'capability'
  /** `networkMode: host`: the host's network stack, its loopback services included. */
  | 'hostNetwork'
  /** `pidMode: host`: sees (and signals) every process of the host. */
  | 'hostPid'
  /** `ipcMode: host`: the host's shared memory. */
  | 'hostIpc'
  /** Docker volume driver options that bind a host path or mount a device. */
  | 'volumeDriverOptions'
  /** A `shared` Docker volume: named, so it may be another workload's (or bosun's own) volume. */
  | 'sharedVolume';

export interface Escape {
  kind: EscapeKind;
  /** The container that asks for it; absent for task-level fields (volumes, modes). */
  container?: string;
  /** What exactly: the path, capability, volume name… */
  detail: string;
}

/** Docker's default capability set (moby's oci/caps/defaults.go): adding one of these adds nothing. */
export const DOCKER_DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
]);

/** `cap_sys_admin`, `CAP_SYS_ADMIN` and `SYS_ADMIN` name the same capability. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

/**
 * Options of the `local` driver (and most others) that make a volume a bind of a host path or a
 * mount of a device: any `device` (a host path, a block device, a remote share), or an `o` with
 * bind/rbind.
 */
function bindingDriverOptions(opts: Readonly<Record<string, string>> | undefined): string[] {
  if (!opts) return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(opts)) {
    const k = key.toLowerCase();
    if (k === 'device') found.push(`device=${value}`);
    else if (k === 'o' && /(^|,)\s*r?bind\s*(,|$)/i.test(value)) found.push(`o=${value}`);
  }
  return found;
}

type EscapeInput = Pick<TaskDefinitionSpec, 'networkMode' | 'pidMode' | 'ipcMode'> & {
  volumes?: TaskDefinitionSpec['volumes'];
  containerDefinitions: ReadonlyArray<
    Pick<TaskDefinitionSpec['containerDefinitions'][number], 'name' | 'privileged' | 'linuxParameters'>
  >;
};

/** Every escape the definition asks for, in a stable order (task level first, then by container). */
export function escapesOf(td: EscapeInput): Escape[] {
  const out: Escape[] = [];
  if (td.networkMode === 'host') out.push({ kind: 'hostNetwork', detail: 'networkMode host' });
  if (td.pidMode === 'host') out.push({ kind: 'hostPid', detail: 'pidMode host' });
  if (td.ipcMode === 'host') out.push({ kind: 'hostIpc', detail: 'ipcMode host' });
  for (const v of td.volumes ?? []) {
    // ECS: a host volume without sourcePath is a Docker-managed anonymous volume, not a bind.
    if (v.host?.sourcePath !== undefined) {
      out.push({ kind: 'hostPath', detail: `volume ${v.name}: host path ${v.host.sourcePath}` });
    }
    const dvc = v.dockerVolumeConfiguration;
    if (dvc) {
      const opts = bindingDriverOptions(dvc.driverOpts);
      if (opts.length > 0) {
        out.push({ kind: 'volumeDriverOptions', detail: `volume ${v.name}: driverOpts ${opts.join(' ')}` });
      }
      if (dvc.scope === 'shared')
        out.push({ kind: 'sharedVolume', detail: `volume ${v.name}: scope shared` });
    }
  }
  for (const c of td.containerDefinitions) {
    if (c.privileged === true) out.push({ kind: 'privileged', container: c.name, detail: 'privileged' });
    for (const cap of c.linuxParameters?.capabilities?.add ?? []) {
      const name = normalizeCapability(cap);
      if (!DOCKER_DEFAULT_CAPABILITIES.has(name)) {
        out.push({ kind: 'capability', container: c.name, detail: `capability ${name}` });
      }
    }
  }
  return out;
}

/** One sentence naming each escape, for error messages and stop reasons. */
export function describeEscapes(escapes: readonly Escape[]): string {
  return escapes.map((e) => (e.container ? `container ${e.container}: ${e.detail}` : e.detail)).join('; ');
}
