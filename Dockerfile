# One image for every role (validator, miner, API, reports); docker-compose.yml picks the command.
#   docker build -t datacomp-subnet .
#   docker build --build-arg TORCH_INDEX_URL=<a CPU wheel index> -t datacomp-subnet:cpu .
# The default torch wheel for Linux is a CUDA build, which the GPU validator needs; miners and
# the API do not use torch at run time, but share the image to keep one thing to build.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/data/hf

WORKDIR /app

# torch first, in its own layer: it is by far the largest and changes least often.
RUN pip install "torch==${TORCH_VERSION}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}

# Only what the package needs (never a local .venv or run data, whatever the build context holds).
COPY pyproject.toml README.md ./
COPY common/ common/
COPY protocol/ protocol/
COPY scoring/ scoring/
COPY tasks/ tasks/
COPY safety/ safety/
COPY miner/ miner/
COPY validator/ validator/
COPY neurons/ neurons/
COPY localnet/ localnet/
# [gym]: the reasoning-gym eval suite (--eval.suite reasoning-gym), meant for GPU nodes.
RUN pip install ".[gym]" "matplotlib>=3.8"

# Run as an unprivileged user; /data holds run directories, caches and the embedded state.
# Every directory docker-compose.yml mounts a volume on under /data exists here, owned by
# datacomp: Docker creates a missing mount point root-owned, and a new named volume takes the
# owner of the directory it is mounted on (/data/ledger: the miner's ledger).
RUN useradd --create-home --uid 1000 datacomp \
    && mkdir -p /data/ledger \
    && chown -R datacomp:datacomp /data
USER datacomp

CMD ["python", "neurons/api.py", "--api.host", "0.0.0.0"]
