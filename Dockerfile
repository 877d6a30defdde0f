# syntax=docker/dockerfile:1
# procgroup-exporter image: docker build -t procgroup-exporter .
#
# On a plain host (the DaemonSet in deploy/ does the same with hostPath mounts):
#   docker run --pid=host -p 9256:9256 -v /proc:/host/proc:ro -v /sys:/host/sys:ro \
#     -v /var/log:/host/var/log:ro procgroup-exporter serve -procfs=/host/proc -path.rootfs=/host
# It runs as nobody by default; reading /proc/<pid>/io, fd and exe of other users' processes needs
# root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (--user 0 --cap-add ...), as the DaemonSet does.

# Build stage: compile the TypeScript, keep only the production dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# install scripts run: koffi (perf collector) picks its prebuilt native module here
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p . && npm prune --omit=dev --no-audit --no-fund

# Runtime: Node 24 (LTS; .ci/run runs the e2e tests on it) on distroless Debian 12 (glibc, as
# koffi's module needs): no shell, no package manager, non-root by default.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# the embedded default config, and what `deploy --dry-run` renders from
COPY config ./config
COPY rules ./rules
COPY deploy ./deploy
USER 65534:65534
EXPOSE 9256
# one malloc arena per two threads' worth of work instead of one per thread (V8's compiler and GC
# threads each grew their own), and a 2 MiB young generation (as main.js's first line): see
# docs/performance.md for what each saves
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "/app/dist/src/cli/main.js"]
CMD ["serve"]
