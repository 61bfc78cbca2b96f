# The callflow app image: one image, four services (worker, agent, api, codec) in docker-compose.
FROM python:3.11-slim

# espeak-ng speaks the offline TTS; sox converts audio (same as `make system-packages`).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng sox \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app
ENV UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    PATH=/app/.venv/bin:$PATH \
    CALLFLOW_STATE_DIR=/data

# Dependencies first (cached until uv.lock changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY callflow ./callflow
COPY workflows ./workflows
COPY activities ./activities
COPY agent ./agent
COPY worker.py ./
RUN uv sync --frozen --no-dev

RUN useradd --create-home --uid 10001 callflow && mkdir -p /data && chown callflow /data
USER callflow
