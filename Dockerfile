# syntax=docker/dockerfile:1
#
# The linkguard image: `docker build -t linkguard .` (BuildKit, the default since Docker 23).
#
#   docker run --read-only --tmpfs /tmp -v linkguard-data:/var/lib/linkguard \
#       -e LINKGUARD_LINK_KEYS=k1:... -e LINKGUARD_BASE_URL=https://links.example.com \
#       -p 8080:8080 linkguard                      # the gateway (`linkguard serve`)
#   docker run ... --no-healthcheck linkguard smtp-filter   # or `milter`: same image
#
# It runs as UID/GID 10001 and writes nothing outside LINKGUARD_DATA_DIR (/var/lib/linkguard,
# a volume: SQLite database, dev-mode files, RDAP bootstrap, feed downloads) and /tmp, so the
# root filesystem can be read-only. The Helm chart in helm/linkguard/ runs it that way.

# ---- build: one wheel for linkguard and one per dependency, compiled here ----------------
FROM python:3.11.14-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# pymilter is a C extension over libmilter: gcc and libmilter-dev build it, and gcc with
# zlib's headers compiles linkguard's hot paths (setup.py, Cython) — the packages .ci/run
# installs for `make test`. They stay in this stage.
# Debian versions are not pinned (DL3008): the pinned base image tag fixes the Debian release,
# and a pinned package version disappears from the archive at its next security update,
# which would break the build rather than make it reproducible.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libmilter-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY allowlists ./allowlists
COPY linkguard ./linkguard
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

# ---- run: the wheels installed into a venv; no compiler, no build files ------------------
FROM python:3.11.14-slim-bookworm

LABEL org.opencontainers.image.title="linkguard" \
      org.opencontainers.image.description="Self-hosted email link-protection gateway" \
      org.opencontainers.image.licenses="Apache-2.0"

# libmilter1.0.1: the shared library pymilter loads for `linkguard milter`.
# Not pinned, for the reason given in the build stage.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmilter1.0.1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 linkguard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/linkguard --no-create-home \
        --shell /usr/sbin/nologin linkguard \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/linkguard

# The Makefile's install (`python -m pip install '.[dev]'` in a venv) without the dev extra and
# without -e: the same package and dependencies, from the wheels built above, offline.
# tests/deploy/test_dockerfile.py holds the two together. pip compiles the .pyc files now,
# so nothing needs to write them at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/linkguard \
 && /opt/linkguard/bin/python -m pip install --no-cache-dir --no-index --find-links=/wheels \
        /wheels/linkguard-*.whl

# In a container the services listen on every interface; everything written goes to the volume.
ENV PATH=/opt/linkguard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/linkguard \
    LINKGUARD_DATA_DIR=/var/lib/linkguard \
    LINKGUARD_HOST=0.0.0.0 \
    LINKGUARD_PORT=8080 \
    LINKGUARD_MAIL_LISTEN=0.0.0.0:10025 \
    LINKGUARD_MILTER_SOCKET=inet:10030@0.0.0.0

USER 10001:10001
WORKDIR /var/lib/linkguard
VOLUME ["/var/lib/linkguard"]
EXPOSE 8080 10025 10030

# The slim image has no curl: Python's urllib, with a timeout shorter than the check's own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LINKGUARD_PORT', '8080'), timeout=4)"]

ENTRYPOINT ["linkguard"]
CMD ["serve"]
