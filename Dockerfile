# syntax=docker/dockerfile:1
# The production image: Node 24 (active LTS), the compiled server and its production dependencies, nothing else.
#
# Nothing in this repository's CI can run Docker, so test/production-install.test.ts runs these same steps (the
# build's tsc, then the `deps` stage's npm command with the same flags, in a temporary folder holding only
# package.json, the lockfile and dist/) and serves a team page from the result. Change the two together.
#
#   docker build -t team-graphql .
#   docker run --rm -p 4000:4000 -p 9464:9464 --env-file .env team-graphql
#
# Pin the base image by digest (node:24-slim@sha256:…) where your registry policy asks for reproducible builds.

# --- build: the TypeScript compiler and the dev dependencies, used and left behind ---------------------------------
FROM node:24-slim AS build
WORKDIR /app
# The workspace's manifest too, so the lockfile's tree installs as it does in a checkout (the emulator's source is
# not copied: the build does not use it).
COPY package.json package-lock.json ./
COPY packages/clerk-emulator/package.json packages/clerk-emulator/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
# `npm run build`: tsc -p tsconfig.build.json → dist/ (no development entry, no emulator).
RUN npm run build

# --- clerk-emulator: for compose.yaml's local trial only (never deployed; `runtime`, the last stage, is the default) -
FROM build AS clerk-emulator
COPY packages/clerk-emulator packages/clerk-emulator
USER node
EXPOSE 4001
ENTRYPOINT ["node", "packages/clerk-emulator/bin/clerk-emulator.js"]

# --- deps: production dependencies only ----------------------------------------------------------------------------
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Without the workspace (the emulator is a development tool) and without install scripts (no production dependency
# needs one). The same command as test/production-install.test.ts.
RUN npm ci --omit=dev --workspaces=false --ignore-scripts --prefer-offline --no-audit --no-fund

# --- runtime -------------------------------------------------------------------------------------------------------
FROM node:24-slim AS runtime
# No package manager at run time: nothing installs anything in a running container, and less to patch.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
WORKDIR /app
COPY --chown=root:root package.json ./
COPY --chown=root:root --from=deps /app/node_modules node_modules
COPY --chown=root:root --from=build /app/dist dist
# The image's unprivileged user (uid 1000); the files above stay root's, so the process cannot change its own code.
USER node
# Public: /graphql, /webhooks/clerk, probes. Admin: /metrics and probes (for Prometheus; keep it off the LB).
EXPOSE 4000 9464
# Exec form: node is PID 1 and receives SIGTERM itself (no shell in between to swallow it); the server handles
# SIGTERM/SIGINT (readiness off, SHUTDOWN_DELAY_MS, drain, exit 0; docs/operations.md). It starts no child
# processes, so no init is needed to reap them.
CMD ["node", "dist/main.js"]
