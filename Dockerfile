# syntax=docker/dockerfile:1
#
# athenz-rbac-operator image: ghcr.io/athenz-rbac-operator/athenz-rbac-operator:<version>
# (the Helm chart's default image; its tag defaults to the chart's appVersion = package.json's
# version). Build: `make image` or
#   docker build -t ghcr.io/athenz-rbac-operator/athenz-rbac-operator:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Two stages: a Debian-based Node 24 image compiles TypeScript (tsc -> dist/, relative .ts
# imports rewritten to .js) and keeps only production dependencies; the runtime is distroless
# Node 24 (glibc and node only: no shell, no package manager), running as uid 65532 with
# nothing to write, so the chart can set readOnlyRootFilesystem.

ARG NODE_MAJOR=24

FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /src
# Dependencies first, so a source change does not re-download them. No install scripts: no
# production dependency has one, and the only dev one (a file watcher jest may use) is not needed
# to compile.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Compile, drop dev dependencies, then the type declarations and source maps of the production
# ones (never read at run time: about 45 MB of 100). `--help` loads every module of the compiled
# entrypoint, so a broken build fails here rather than in a Pod.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && node dist/main.js --help >/dev/null

FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="athenz-rbac-operator" \
      org.opencontainers.image.description="Kubernetes operator that syncs Athenz ZMS role members into namespace RoleBindings" \
      org.opencontainers.image.source="https://github.com/athenz-rbac-operator/athenz-rbac-operator" \
      org.opencontainers.image.url="https://github.com/athenz-rbac-operator/athenz-rbac-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="athenz-rbac-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot"
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the operator: it never writes to its own files.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8080 8081
# Flags go in the Pod's `args` (the chart sets them); they follow the script, so the entrypoint
# must name it. Distroless has no `node` on PATH: the binary is /nodejs/bin/node.
ENTRYPOINT ["/nodejs/bin/node", "--enable-source-maps", "/app/dist/main.js"]
