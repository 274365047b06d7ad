# costeer serve with the shipped co-pilot, for docker-compose.yml (see README: "Running with docker-compose").

# The web client, built from its lockfile (costeer serve serves it on the WebSocket port: http://HOST:38801/).
FROM node:20-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/build.mjs web/index.html web/style.css ./
COPY web/src ./src
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# The CPU build of torch first, from PyTorch's own index, so the agent extra does not pull the CUDA one.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY pyproject.toml README.md ./
COPY costeer ./costeer
COPY --from=web /src/costeer/server/web/static ./costeer/server/web/static
COPY protos ./protos
# Editable, so the shipped checkpoint stays at /app/costeer/agent/checkpoints/nanotube.pt;
# the agent extra runs the co-pilot (--copilot), the events extra publishes to MQTT (--mqtt),
# the grpc extra serves legacy headsets (--grpc-port; stubs made from protos/ on first use).
RUN pip install -e ".[agent,events,grpc]"

RUN mkdir -p /recordings
VOLUME ["/recordings"]
EXPOSE 38801 38802

CMD ["costeer", "serve", "--address", "0.0.0.0", "--port", "38801"]
