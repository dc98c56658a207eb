# syntax=docker/dockerfile:1
# One image for every Turnaround process. The entry point is node; the command names the process:
#   dist/apps/<checkin|commands|escrow|provisioning|relay|migrate|simulator>/src/main.js
# and defaults to the embedded all-in-one. docker-compose.yml and k8s/ choose it per container, so
# the processes of one release always run the same build.

ARG NODE_VERSION=20.19

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 is a native addon: it compiles from source when no prebuilt binary fits.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY .swcrc ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build \
    && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# HOST: the services listen on loopback unless told otherwise, which a container cannot serve.
# TURNAROUND_DATA_DIR: where a process writes the keys it generates when none were given; in
# Kubernetes an emptyDir, as the root file system is read-only there.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    TURNAROUND_DATA_DIR=/var/lib/turnaround
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/turnaround \
    && chown 1000:1000 /var/lib/turnaround \
    && chmod 0700 /var/lib/turnaround
# Numeric, so that Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 1000:1000
EXPOSE 8080
# The node flags and malloc arenas of every service process (libs/platform/src/service-process.ts
# says why).
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["node", "--enable-source-maps", "--max-semi-space-size=8"]
CMD ["dist/apps/embedded/src/main.js"]
