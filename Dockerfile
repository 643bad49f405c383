# The batch worker (src/batch/main.ts) as a container for ECS on Fargate.
#
#   npm run build:batch                  # dist/batch/: worker.cjs + sharp for linux-x64
#   docker build -t image-resizer-batch .
#
# Nothing is compiled or installed here: the build context is dist/batch/ alone (.dockerignore),
# laid out by scripts/build-batch.mts. See docs/batch-image.md for arm64 and for pushing to ECR.
#
# The base is pinned to an exact Node.js release on purpose: a floating tag (node:22, latest)
# would change the runtime under an unchanged image tag. Bump it deliberately, and for a fully
# reproducible image add its digest: node:22.21.1-bookworm-slim@sha256:<digest>.
# Debian (glibc), because build:batch ships sharp's glibc binaries; Alpine (musl) would not load them.
FROM node:22.21.1-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the worker, which writes nothing locally (reports go to S3).
COPY dist/batch/ /app/

# The image's unprivileged user (uid 1000).
USER node
# node runs as PID 1 without an init: main.ts handles SIGTERM (a Fargate stop, a Spot reclaim)
# itself, so a stop drains in-flight images instead of being ignored.
ENTRYPOINT ["node", "worker.cjs"]
# The job's arguments come from the task's command override (startBatch); alone, the usage.
CMD ["--help"]
