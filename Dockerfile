# One image for all the Python services; docker-compose.yml picks the service with `command:`
# (the same argv as deploy/local/stack.py runs locally).
FROM python:3.11-slim

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
RUN pip install "uv==0.13.8"

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock changes, not on every code edit.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-cache

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
