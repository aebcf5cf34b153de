/**
 * The control plane as bosun ships it: apps/control-plane/dist/server.mjs (the server) and
 * dist/cli.mjs (the admin CLI, scripts/bosun), each one ESM file made by esbuild from src/server.ts
 * and src/cli.ts and run by plain `node` (scripts/up, the Dockerfile, docker-compose.yml). tsx is a
 * development loader: `node --import tsx apps/control-plane/src/server.ts` stays the way to run it in
 * development and in the tests. bench/control-plane-footprint measures the two.
 *
 *   scripts/build-control-plane [--if-stale] [--outdir DIR] [--metafile]     (calls buildControlPlane)
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const CONTROL_PLANE_DIR = dirname(fileURLToPath(import.meta.url));

/** Where scripts/up and the image run the control plane from. */
export const CONTROL_PLANE_DIST = join(CONTROL_PLANE_DIR, 'dist');

/**
 * Node flags the control plane runs with (scripts/up, the Dockerfile and docker-compose.yml spell them
 * out; scripts/compose.test.ts checks the latter two): stack traces with their TypeScript lines.
 */
export const CONTROL_PLANE_NODE_FLAGS: readonly string[] = ['--enable-source-maps'];

/** The server's command line from the repository root (the image's WORKDIR). */
export const CONTROL_PLANE_COMMAND: readonly string[] = [
  'node',
  ...CONTROL_PLANE_NODE_FLAGS,
  'apps/control-plane/dist/server.mjs',
];

/**
 * Packages loaded from node_modules at run time instead of from the bundle (node_modules is there
 * wherever bosun runs: scripts/up and the image). Everything else bundles cleanly. BullMQ among them:
 * its Lua commands are compiled into its JavaScript, and its one file path (the sandboxed processors'
 * child script) serves a feature bosun does not use. Kept external it showed no lower idle RSS (one
 * side-by-side run of each, 77 against 75 MB, within the noise of idle GC).
 */
const EXTERNAL: readonly { module: string; why: string }[] = [
  {
    module: 'ioredis',
    why: 'reads its own package.json through __dirname (the LIB-VER it tells Redis), and BullMQ and bosun must share one copy',
  },
  {
    module: 'msgpackr-extract',
    why: "BullMQ's msgpackr finds this native add-on through __dirname; bundled, it would quietly fall back to JavaScript",
  },
];

/** The packages above, by name. */
export const CONTROL_PLANE_EXTERNAL: readonly string[] = EXTERNAL.map((e) => e.module);

export interface ControlPlaneBuild {
  server: string;
  cli: string;
  /** Bytes of server.mjs. */
  bytes: number;
  /** esbuild's metafile as JSON when asked for (what each input costs: esbuild.github.io/analyze). */
  metafile?: string;
}

export async function buildControlPlane(
  o: { outdir?: string; metafile?: boolean } = {},
): Promise<ControlPlaneBuild> {
  const outdir = o.outdir ?? CONTROL_PLANE_DIST;
  const result = await build({
    entryPoints: {
      server: join(CONTROL_PLANE_DIR, 'src/server.ts'),
      cli: join(CONTROL_PLANE_DIR, 'src/cli.ts'),
    },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: [...CONTROL_PLANE_EXTERNAL],
    // Less source for V8 to keep in memory; the source map (`node --enable-source-maps`, as scripts/up
    // and the image run it) gives stack traces their TypeScript lines back.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    // Stack traces need the line mappings only; the TypeScript is in the repository and the image.
    sourcesContent: false,
    legalComments: 'none',
    // The CommonJS dependencies (fastify, pino, bullmq) call require() for Node's own modules.
    banner: {
      js: "import { createRequire as __bosunCreateRequire } from 'node:module'; const require = __bosunCreateRequire(import.meta.url);",
    },
    metafile: o.metafile ?? false,
    logLevel: 'warning',
  });
  const server = join(outdir, 'server.mjs');
  return {
    server,
    cli: join(outdir, 'cli.mjs'),
    bytes: statSync(server).size,
    ...(result.metafile ? { metafile: JSON.stringify(result.metafile) } : {}),
  };
}
