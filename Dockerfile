# syntax=docker/dockerfile:1
# The loader as a long-running SQS consumer (`loader-worker`), for ECS, Kubernetes or any
# container host. See docs/worker.md. Build from the repository root:
#   docker build -t s3-redshift-loader-worker .

# --- build: a wheel of the project (only the runtime packages, no dev extras) ---------------
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md* ./
COPY loader/ loader/
COPY config/ config/
COPY setup_cli/ setup_cli/
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ----------------------------------------------------------------------------------
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# psycopg2-binary ships its own libpq, so no system packages are needed.
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin loader
USER 10001:10001
WORKDIR /tmp
# SIGTERM makes the worker finish the batch in hand and exit 0: give it a stop grace period of at
# least LOADER_LEASE_SECONDS (ECS stopTimeout, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["loader-worker"]
