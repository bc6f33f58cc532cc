# syntax=docker/dockerfile:1
# The image for the API, the ARQ worker and the migration job (docker-compose.yml), plus a
# `loadtest` stage that adds Locust. Dependencies come from uv.lock through a pinned uv.

FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH=/app/.venv/bin:$PATH

# the same uv as the Makefile and the lock file's dev group, so the lock resolves identically
RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app

# dependencies before the code, so a code change reuses this layer
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY engine ./engine
COPY api ./api
COPY workers ./workers
COPY lua ./lua
COPY ops ./ops

# .data/mail exists in the image so the compose `mail` volume mounted there is the worker's
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home boxoffice \
    && mkdir -p /app/.data/mail \
    && chown -R boxoffice:boxoffice /app/.data


# Locust and the load-test suites: `docker compose --profile loadtest up`
FROM base AS loadtest
RUN uv sync --frozen --no-install-project
COPY loadtests ./loadtests
USER boxoffice
EXPOSE 8089
CMD ["locust", "-f", "loadtests/locustfile.py", "--host", "http://api:8000"]


# the default (last) stage: API, worker and migrate services
FROM base AS runtime
USER boxoffice
EXPOSE 8000
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--loop", "uvloop", "--http", "httptools", "--no-access-log", \
     "--no-server-header"]
