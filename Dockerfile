# Easel on an NVIDIA GPU: CUDA 12.8 runtime with PyTorch built for CUDA 12.8.
# Build: docker build -t easel .     Run: see docker-compose.yml (GPU reservation, volumes).

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS base
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

FROM base AS build
RUN python3 -m venv /opt/easel
ENV PATH=/opt/easel/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so they stay cached while the source changes.
# torch is the CUDA 12.8 build matching the base image, at the version CI tests.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
COPY pyproject.toml ./
RUN python3 -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('requirements.txt', 'w').write('\n'.join(deps))" \
    && pip install -r requirements.txt
# Then Easel itself, with the README's set-up command.
COPY README.md ./
COPY bot ./bot
COPY pipeline ./pipeline
RUN pip install .

FROM base AS runtime
RUN useradd --create-home --uid 10001 easel
COPY --from=build /opt/easel /opt/easel
ENV PATH=/opt/easel/bin:$PATH \
    EASEL_DATA_DIR=/data
WORKDIR /app
COPY config.yaml ./
COPY models ./models
RUN mkdir -p /data/models && chown -R easel:easel /data
USER easel
# Everything Easel writes (database, images, logs, backups) is under /data; models downloaded
# from the hub are cached in /data/models, which docker-compose.yml mounts as its own volume.
VOLUME ["/data", "/data/models"]
HEALTHCHECK --interval=60s --timeout=10s --start-period=15m --retries=3 \
    CMD ["python3", "-m", "bot", "--config", "/app/config.yaml", "--health"]
ENTRYPOINT ["python3", "-m", "bot"]
CMD ["--config", "/app/config.yaml"]
