# gpucheck's container image: the CLI and its pinned dependencies, run as a non-root user,
# ready for a read-only root filesystem (reports and HOME go to mounted volumes).
#
#   docker build -t gpucheck:0.1.0 .                              # core: quick + standard profiles
#   docker build --build-arg EXTRAS=airflow -t gpucheck:0.1.0-airflow .   # + the sweep's Airflow
#
# Versions are pinned by constraints/airflow-3.3.2-py3.11.txt (core dependencies included).
# bench/image_install.py runs the two pip steps below outside Docker and times them.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG EXTRAS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY constraints ./constraints
COPY gpucheck ./gpucheck
COPY suites ./suites
COPY reports ./reports
COPY dags ./dags
# step: wheels
RUN pip wheel --wheel-dir /wheels --constraint constraints/airflow-3.3.2-py3.11.txt ".${EXTRAS:+[${EXTRAS}]}"

FROM ${PYTHON_IMAGE}
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    HOME=/tmp
COPY --from=builder /wheels /wheels
COPY constraints/airflow-3.3.2-py3.11.txt /tmp/constraints.txt
# step: install
RUN pip install --no-index --find-links /wheels --constraint /tmp/constraints.txt "gpucheck${EXTRAS:+[${EXTRAS}]}" \
    && rm -rf /wheels /tmp/constraints.txt \
    && groupadd --gid 65532 gpucheck \
    && useradd --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin gpucheck
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["gpucheck"]
CMD ["run", "--profile=quick", "--report=/tmp/gpucheck-report"]
