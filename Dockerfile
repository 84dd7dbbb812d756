# syntax=docker/dockerfile:1
#
# Impasto: the web studio (gunicorn) by default; the same image runs a Celery worker with
# `impasto worker` (see docker-compose.yml).
#
#   docker build -t impasto .
#   docker run -p 127.0.0.1:8000:8000 -v impasto-data:/data impasto   # this machine only (docs/deployment.md)
#
# Build arguments:
#   FETCH_WEIGHTS=1  (default) download the ImageNet VGG16 weights at build time, so the container
#                    runs offline. FETCH_WEIGHTS=0 for builds without internet access: then mount a
#                    weights file and point IMPASTO_VGG_WEIGHTS at it, e.g.
#                      docker run -v /path/to/weights:/weights:ro \
#                        -e IMPASTO_VGG_WEIGHTS=/weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 ...
#   GPU=1            also install tensorflow[and-cuda] (CUDA and cuDNN as pip wheels; the host needs only the
#                    NVIDIA driver and the NVIDIA Container Toolkit). Run it with
#                      docker run --gpus all -p 8000:8000 impasto
#                    and check `docker logs` for the device the engine reports. The default image is CPU-only
#                    in practice (TensorFlow finds no GPU libraries and says so once at start-up).
#
# Exposing it: the studio answers only to localhost and IP addresses in the Host header (a DNS-rebinding
# defence); give the names people use, and say how many reverse proxies sit in front, e.g.
#   docker run -p 8000:8000 -e IMPASTO_TRUSTED_HOSTS=studio.example.org -e IMPASTO_PROXY_COUNT=1 ... impasto
# and set a password before publishing the port beyond this machine (docs/security.md, docs/deployment.md).
#
# GPU hosts, other notes: one job uses every core (or the whole GPU), so keep IMPASTO_RUNNERS=1 and scale out
# with more worker containers instead (docker compose up --scale worker=N), one per GPU
# (e.g. `deploy.resources.reservations.devices` in compose, or NVIDIA_VISIBLE_DEVICES per worker).

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: a virtual environment in /opt/venv with the project installed the README's way ----
FROM ${PYTHON_IMAGE} AS build

ARG GPU=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Same install as the README (`python3 -m venv .venv && .venv/bin/pip install .`), into /opt/venv.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir .
# The distributed extra (Celery and the Redis client, versions from pyproject.toml): web and worker
# containers share this image, and both need Celery once IMPASTO_BROKER_URL is set.
RUN /opt/venv/bin/pip install --no-cache-dir ".[distributed]"
# GPU=1: add TensorFlow's CUDA libraries (the and-cuda extra) for the TensorFlow version already installed.
RUN if [ "$GPU" = "1" ]; then \
        tf_version="$(/opt/venv/bin/python -c 'from importlib.metadata import version; print(version("tensorflow"))')" \
        && /opt/venv/bin/pip install --no-cache-dir "tensorflow[and-cuda]==${tf_version}"; \
    fi

# ---- runtime ----
FROM ${PYTHON_IMAGE}

ARG FETCH_WEIGHTS=1

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    IMPASTO_DATA_DIR=/data

# A non-root user that owns the data folder and its own ~/.keras (where Keras caches the weights).
RUN groupadd --gid 1000 impasto \
    && useradd --no-log-init --uid 1000 --gid impasto --create-home --home-dir /home/impasto \
        --shell /usr/sbin/nologin impasto \
    && mkdir -p /data \
    && chown impasto:impasto /data

COPY --from=build /opt/venv /opt/venv

USER 1000:1000
WORKDIR /home/impasto

# The ImageNet VGG16 notop weights, downloaded now into /home/impasto/.keras/models/
# (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, 58 MB) so the running container needs no internet.
RUN if [ "$FETCH_WEIGHTS" = "1" ]; then \
        python -c "import keras; keras.applications.VGG16(include_top=False, weights='imagenet')" \
        && test -s /home/impasto/.keras/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5; \
    else \
        echo "FETCH_WEIGHTS=0: no weights in the image; mount a file and set IMPASTO_VGG_WEIGHTS"; \
    fi

VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# `impasto serve` execs gunicorn on impasto:create_app(), so gunicorn is PID 1 and gets SIGTERM directly.
CMD ["impasto", "serve", "--host", "0.0.0.0", "--port", "8000"]
