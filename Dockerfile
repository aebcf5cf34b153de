# bosun: one image for the control plane (default command: `node --enable-source-maps
# apps/control-plane/dist/server.mjs`) and the agent (`node --max-semi-space-size=2
# apps/agent/dist/agent.mjs`, see docker-compose.yml). Both are esbuild bundles made when the image is
# built (apps/control-plane/build.ts, apps/agent/build.ts) and run as plain JavaScript; the TypeScript
# sources and tsx, a development loader, stay in the build stage.
#
#   docker build -t bosun:latest .        (docker-compose.yml does this)

# --- production dependencies ------------------------------------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# Only the manifests, so this layer is rebuilt only when dependencies change.
COPY package.json package-lock.json ./
COPY packages/model/package.json packages/model/
COPY packages/scheduler/package.json packages/scheduler/
COPY apps/control-plane/package.json apps/control-plane/
COPY apps/agent/package.json apps/agent/
# No install scripts: none is needed (msgpackr-extract's add-on comes prebuilt as an optional package;
# cpu-features is an optional native speed-up). `npm install --no-save` installs the locked versions;
# unlike `npm ci` it accepts a lock that lacks other platforms' optional packages (npm/cli#4828).
# The control plane loads ioredis and msgpackr-extract from here (apps/control-plane/build.ts says why).
RUN npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- build: the bundles ------------------------------------------------------------------------------
FROM deps AS build
# tsx runs the build scripts and esbuild bundles: both root devDependencies, so promote them to
# dependencies at the versions the lock pins and install them too.
RUN set -eux; \
    for tool in tsx esbuild; do \
      version="$(node -p "require('./package-lock.json').packages['node_modules/${tool}'].version")"; \
      npm pkg delete "devDependencies.${tool}"; \
      npm pkg set "dependencies.${tool}=${version}"; \
    done; \
    npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY apps apps
COPY scripts/build-control-plane scripts/
RUN node --import tsx apps/agent/build.ts && scripts/build-control-plane

# --- runtime ----------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    BOSUN_LISTEN_HOST=0.0.0.0 \
    BOSUN_PORT=7700 \
    BOSUN_STATE_DIR=/var/lib/bosun \
    BOSUN_AGENT_STATE_DIR=/var/lib/bosun-agent
WORKDIR /app
COPY --from=deps /app /app
COPY migrations migrations
COPY --from=build /app/apps/agent/dist apps/agent/dist
COPY --from=build /app/apps/control-plane/dist apps/control-plane/dist
# State directories, owned by the unprivileged `node` user the control plane runs as. The agent
# runs as root (docker-compose.yml sets user 0:0) to use the Docker socket.
RUN mkdir -p /var/lib/bosun /var/lib/bosun-agent \
 && chown node:node /var/lib/bosun /var/lib/bosun-agent \
 && chmod 0700 /var/lib/bosun /var/lib/bosun-agent
USER node
EXPOSE 7700
CMD ["node", "--enable-source-maps", "apps/control-plane/dist/server.mjs"]
