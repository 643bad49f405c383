# One image, two commands, for ECS on Fargate:
#   node worker.cjs   the batch worker (src/batch/main.ts): the default; startBatch's tasks
#   node serve.cjs    the engine (src/engine/main.ts): the URL API as an HTTP server on port 3000;
#                     the engine's ECS service selects it (its task definition's entryPoint, command)
#
#   npm run build:batch                  # dist/batch/: worker.cjs, serve.cjs + sharp for linux-x64
#   docker build -t image-resizer-batch .
#
# Nothing is compiled or installed here: the build context is dist/batch/ alone (.dockerignore),
# laid out by scripts/build-batch.mts. See docs/batch-image.md for arm64 and for pushing to ECR,
# docs/engine.md for the engine.
#
# The base is pinned to an exact Node.js release on purpose: a floating tag (node:22, latest)
# would change the runtime under an unchanged image tag. Bump it deliberately, and for a fully
# reproducible image add its digest: node:22.21.1-bookworm-slim@sha256:<digest>.
# Debian (glibc), because build:batch ships sharp's glibc binaries; Alpine (musl) would not load them.
FROM node:22.21.1-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to both commands, which write nothing locally (reports, variants: S3).
COPY dist/batch/ /app/

# The engine's port (PORT, default 3000). The worker listens on nothing.
EXPOSE 3000
# No HEALTHCHECK: the image's default command is the worker, which serves no HTTP, and ECS ignores
# an image's HEALTHCHECK anyway. The engine's task definition has its own container health check
# (node fetching /_health: the slim base has no curl), and the load balancer checks /_health too.

# The image's unprivileged user (uid 1000).
USER node
# node runs as PID 1 without an init: both commands handle SIGTERM (a Fargate stop, a Spot
# reclaim, a scale-in) themselves, so a stop drains in-flight work instead of being ignored.
# The worker stays the entry point, so startBatch's command override is the worker's options
# alone; the engine's task definition sets entryPoint ["node"] and command ["serve.cjs"]
# (docker run --entrypoint node -p 3000:3000 … serve.cjs).
ENTRYPOINT ["node", "worker.cjs"]
# The job's arguments come from the task's command override (startBatch); alone, the usage.
CMD ["--help"]
