# wizard: one image for every role; the role is the command.
#   docker build -t wizard .
#   docker run --rm -p 8000:8000 wizard          (up: makes a token per role, kept in a file it names on stderr)
#   docker run --rm -e REDIS_URL=redis://host:6379 -e WIZARD_API_TOKENS=me:admin:<token> -p 8000:8000 wizard api
#   docker run --rm -e REDIS_URL=redis://host:6379 wizard worker
# An api listens on 0.0.0.0 (WIZARD_HOST below), so it needs tokens (WIZARD_API_TOKENS or
# WIZARD_TOKENS_FILE, see `wizard tokens init`); compose.yaml makes them for its cluster.
# Build stage: every dependency, compile TypeScript, then lay out the runtime with
# deploy/stage-runtime.sh (what npm pack ships + production node_modules), which
# test/e2e/image.test.ts also runs outside Docker.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && deploy/stage-runtime.sh /app

# Runtime stage: node, the staged runtime and nothing else, run as the unprivileged `node` user.
FROM node:20-slim
ENV NODE_ENV=production \
    WIZARD_HOST=0.0.0.0 \
    WIZARD_METRICS_HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY --from=build /app /app
RUN ln -s /app/bin/wizard /usr/local/bin/wizard
# the datalake's day files (docs/datalake.md): the scheduler leader or `up` writes them here
RUN mkdir -p /var/lib/wizard-datalake && chown node:node /var/lib/wizard-datalake
ENV WIZARD_DATALAKE_DIR=/var/lib/wizard-datalake
# where compose's `tokens` service writes the API tokens file, the bots' token and the Redis
# password: a named volume mounted on one of these (or the datalake's) starts with its owner, so
# the `node` user can write it
RUN mkdir -p /var/lib/wizard /var/lib/wizard-bot /var/lib/wizard-redis && chown node:node /var/lib/wizard /var/lib/wizard-bot /var/lib/wizard-redis
USER node
EXPOSE 8000
# right for every role: `wizard healthcheck` reads the role from PID 1's command line
# (api: GET /healthz; worker, scheduler: PING Redis; bot: GET the API's /healthz)
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["wizard", "healthcheck"]
ENTRYPOINT ["wizard"]
CMD ["up"]
