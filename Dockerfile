# One image for all the Python services; docker-compose.yml picks the service with `command:`
# (the same argv as deploy/local/stack.py runs locally).
# REGISTRY_PREFIX: an internal registry to pull the base image from (docker-compose.yml passes it).
ARG REGISTRY_PREFIX=
FROM ${REGISTRY_PREFIX}python:3.11-slim
# PYTHON_INDEX: an internal Python package index (docker-compose.yml passes UV_DEFAULT_INDEX).
ARG PYTHON_INDEX=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# The same uv version deploy/local/provision.sh pins.
RUN pip install ${PYTHON_INDEX:+--index-url "$PYTHON_INDEX"} "uv==0.13.8"

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock changes, not on every code edit.
COPY pyproject.toml uv.lock ./
# `uv sync --frozen` downloads from the addresses in uv.lock: with a mirror, the same locked set,
# checked against the lock's hashes, comes from the mirror instead (as deploy/local/provision.sh does).
RUN if [ -z "$PYTHON_INDEX" ]; then uv sync --frozen --no-dev --no-cache; else \
      uv export --frozen --no-dev --no-emit-project --format requirements-txt -o /tmp/requirements.txt \
      && uv venv /app/.venv \
      && uv pip sync --no-cache --require-hashes --default-index "$PYTHON_INDEX" \
           --python /app/.venv/bin/python /tmp/requirements.txt \
      && rm /tmp/requirements.txt; fi

COPY shared/ shared/
COPY services/ services/
COPY deploy/local/dev.env deploy/local/dev.env

# Run unprivileged; the worker keeps its faust state under var/ (relative to /app).
RUN useradd --system --uid 10001 --home-dir /app --no-create-home app \
    && mkdir -p /app/var \
    && chown app:app /app/var
USER app

ENV PATH=/app/.venv/bin:$PATH

# A harmless default; every compose service sets its own command.
CMD ["python", "-c", "print('Set a command, e.g. python -m services.scoring api (see docker-compose.yml)')"]
