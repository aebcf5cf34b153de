# bosun: one image for the control plane (default command) and the agent
# (`node --max-semi-space-size=2 apps/agent/dist/agent.mjs`, see docker-compose.yml). The control
# plane runs its TypeScript through tsx; the agent is bundled by esbuild (apps/agent/build.ts) when
# the image is built, so that it runs as plain JavaScript in less memory.
#
#   docker build -t bosun:latest .        (docker-compose.yml does this)

# --- dependencies -----------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# Only the manifests, so this layer is rebuilt only when dependencies change.
COPY package.json package-lock.json ./
COPY packages/model/package.json packages/model/
COPY packages/scheduler/package.json packages/scheduler/
COPY apps/control-plane/package.json apps/control-plane/
COPY apps/agent/package.json apps/agent/
# Production dependencies plus tsx, which runs the TypeScript sources, and esbuild, which bundles the
# agent. Both are root devDependencies, so --omit=dev would leave them out: promote them to
# dependencies at the versions the lock pins.
# No install scripts: none is needed (esbuild's binary comes as an optional package; msgpackr-extract
# and cpu-features are optional native speed-ups). `npm install --no-save` installs the locked
# versions; unlike `npm ci` it accepts a lock that lacks other platforms' optional packages
# (npm/cli#4828) and the promoted tools.
RUN set -eux; \
    flags='--omit=dev --ignore-scripts --no-audit --no-fund'; \
    for tool in tsx esbuild; do \
      version="$(node -p "require('./package-lock.json').packages['node_modules/${tool}'].version")"; \
      npm pkg delete "devDependencies.${tool}"; \
      npm pkg set "dependencies.${tool}=${version}"; \
    done; \
    npm install --no-save $flags; \
    echo 'const ok: string = "tsx ok"; console.log(ok);' > /tmp/check.ts; \
    node --import tsx /tmp/check.ts; \
    rm /tmp/check.ts; \
    npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    BOSUN_LISTEN_HOST=0.0.0.0 \
    BOSUN_PORT=7700 \
    BOSUN_STATE_DIR=/var/lib/bosun \
    BOSUN_AGENT_STATE_DIR=/var/lib/bosun-agent
WORKDIR /app
COPY --from=deps /app /app
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY apps apps
COPY migrations migrations
# The agent as it runs (apps/agent/dist/agent.mjs); see apps/agent/build.ts.
RUN node --import tsx apps/agent/build.ts
# State directories, owned by the unprivileged `node` user the control plane runs as. The agent
# runs as root (docker-compose.yml sets user 0:0) to use the Docker socket.
RUN mkdir -p /var/lib/bosun /var/lib/bosun-agent \
 && chown node:node /var/lib/bosun /var/lib/bosun-agent \
 && chmod 0700 /var/lib/bosun /var/lib/bosun-agent
USER node
EXPOSE 7700
CMD ["node", "--import", "tsx", "apps/control-plane/src/server.ts"]
