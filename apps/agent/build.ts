/**
 * The agent as bosun ships it: one ESM file, apps/agent/dist/agent.mjs, made by esbuild and run by
 * plain `node` with AGENT_NODE_FLAGS and AGENT_ENV (scripts/up, docker-compose.yml's agent service and
 * bench/agent-footprint all run it so). Through tsx the agent takes ~100 MB RSS, ~25 MB of it tsx's
 * loader; bundled and trimmed it stays under the 80 MB target with 20 tasks (apps/agent/README.md
 * has the figures step by step). `node --import tsx apps/agent/src/main.ts` stays the way to run it in
 * development and in the tests.
 *
 *   node --import tsx apps/agent/build.ts [--outfile FILE] [--metafile]      (scripts/build-agent)
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const AGENT_DIR = dirname(fileURLToPath(import.meta.url));

/** Where scripts/up and the image run the agent from. */
export const AGENT_BUNDLE = join(AGENT_DIR, 'dist/agent.mjs');

/**
 * Node flags the agent runs with; scripts/up and docker-compose.yml spell them out too
 * (scripts/compose.test.ts checks the latter). With Node's default 16 MB semi-spaces the agent's RSS
 * saws between ~90 and ~120 MB as the garbage of each long-poll and Docker relist piles up in the young
 * generation; with 2 MB it stays flat, and the more frequent scavenges do not show in its CPU.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * Environment the agent runs with, beside its BOSUN_* settings (scripts/up and docker-compose.yml set
 * it too). glibc gives each thread that allocates (V8's GC helpers, libuv's pool) a malloc arena of
 * its own, and memory freed in one is not handed back to the others; with two arenas the agent with
 * 20 tasks took ~5 MB less on average over three runs each (runs vary by ±5 MB).
 */
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/**
 * Modules the agent's dependencies load but the agent never calls, replaced in the bundle by a stub
 * that throws if anything does use it. Together 1 MB of the 2.2 MB an unstubbed bundle holds, and
 * 5–7 MB of RSS: loading a module runs its top level, whose functions and objects then stay alive.
 * `module` is the path as the importing file writes it; `from`, a part of the importer's path.
 */
const LEFT_OUT: readonly { module: string; from: string; why: string }[] = [
  {
    module: './session',
    from: '/dockerode/lib/',
    why: "dockerode's BuildKit build sessions (gRPC: @grpc/grpc-js, @grpc/proto-loader); the agent never builds images",
  },
  {
    module: './buildkit',
    from: '/dockerode/lib/',
    why: "dockerode's decoder of BuildKit build output (protobufjs); the agent never builds images",
  },
  {
    module: 'tar-fs',
    from: '/dockerode/lib/',
    why: "dockerode's build-context packing; the agent never builds images",
  },
  {
    module: '@balena/dockerignore',
    from: '/dockerode/lib/',
    why: "dockerode's .dockerignore handling for builds; the agent never builds images",
  },
  {
    module: 'ssh2',
    from: '/docker-modem/lib/',
    why: 'the ssh:// DOCKER_HOST transport (with a native add-on); run the agent with tsx for that',
  },
  {
    module: 'thread-stream',
    from: '/pino/lib/',
    why: "pino's worker-thread transports; the agent logs JSON lines to stdout",
  },
];

/**
 * Dependencies of dependencies that Node itself provides: readable-stream 3 is a copy of Node's own
 * streams, loaded by docker-modem only for hijacked (attach/exec) connections, which the agent never
 * opens; Node's `stream` saves its ~55 kB (a sixth of the bundle).
 */
const NODE_BUILTIN: readonly { module: string; from: string; builtin: string }[] = [
  { module: 'readable-stream', from: '/docker-modem/lib/', builtin: 'node:stream' },
];

/** The stub: loading it is harmless (dependencies read properties at load time); using it throws. */
function stubSource(module: string, why: string): string {
  const message = JSON.stringify(`${module} is left out of the agent bundle (apps/agent/build.ts): ${why}`);
  return `function leftOut() { throw new Error(${message}); }
module.exports = new Proxy(leftOut, { get: (_, key) => (typeof key === 'symbol' || key === '__esModule' ? undefined : leftOut) });
`;
}

function leaveOutUnused(): Plugin {
  const names = [...new Set([...LEFT_OUT, ...NODE_BUILTIN].map((l) => l.module))];
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
  return {
    name: 'bosun-leave-out-unused',
    setup(b) {
      b.onResolve({ filter }, (args) => {
        const builtin = NODE_BUILTIN.find((n) => n.module === args.path && args.importer.includes(n.from));
        if (builtin) return { path: builtin.builtin, external: true };
        const entry = LEFT_OUT.find((l) => l.module === args.path && args.importer.includes(l.from));
        if (!entry) return undefined;
        return { path: `${entry.from}${entry.module}`, namespace: 'bosun-left-out', pluginData: entry };
      });
      b.onLoad({ filter: /.*/, namespace: 'bosun-left-out' }, (args) => {
        const entry = args.pluginData as (typeof LEFT_OUT)[number];
        return { contents: stubSource(entry.module, entry.why), loader: 'js' };
      });
    },
  };
}

export interface BuildResult {
  outfile: string;
  bytes: number;
  /** esbuild's metafile as JSON when asked for (what each input costs: esbuild.github.io/analyze). */
  metafile?: string;
}

export async function buildAgent(o: { outfile?: string; metafile?: boolean } = {}): Promise<BuildResult> {
  const outfile = o.outfile ?? AGENT_BUNDLE;
  const result = await build({
    entryPoints: [join(AGENT_DIR, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Less source for V8 to keep in memory; the source map (not loaded unless asked for, with
    // `node --enable-source-maps`) gives stack traces their TypeScript lines back.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'none',
    plugins: [leaveOutUnused()],
    // The CommonJS dependencies (dockerode, pino) call require() for Node's own modules.
    banner: {
      js: "import { createRequire as __bosunCreateRequire } from 'node:module'; const require = __bosunCreateRequire(import.meta.url);",
    },
    metafile: o.metafile ?? false,
    logLevel: 'warning',
  });
  return {
    outfile,
    bytes: statSync(outfile).size,
    ...(result.metafile ? { metafile: JSON.stringify(result.metafile) } : {}),
  };
}

/** True when this file is the program (not imported by the benchmark or a test). */
function isMain(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && existsSync(entry) && import.meta.url === pathToFileURL(entry).href;
}

if (isMain()) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outfile');
  const outfile = at >= 0 ? args[at + 1] : undefined;
  const out = await buildAgent({ ...(outfile ? { outfile } : {}), metafile: args.includes('--metafile') });
  if (out.metafile) writeFileSync(`${out.outfile}.meta.json`, out.metafile);
  process.stderr.write(`agent bundle: ${out.outfile} (${Math.round(out.bytes / 1024)} kB)\n`);
}
