# newsalert image: wheels built in one stage, installed alone in a slim one; runs as a non-root user,
# keeps its data in /data, and `newsalert run` is PID 1 (it stops cleanly on SIGTERM).
# BASE_IMAGE must provide python3 (>= 3.11) with venv; any Debian-based Python image does.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install --no-cache-dir --quiet --upgrade pip
COPY pyproject.toml README.md ./
COPY bot ./bot
# newsalert and every dependency as wheels, and a pip new enough to read their extras (lxml[html-clean]):
# the runtime stage installs these and nothing else
RUN /opt/build/bin/pip wheel --no-cache-dir --quiet --wheel-dir /wheels . pip

FROM ${BASE_IMAGE}
RUN useradd --system --create-home --uid 10001 --user-group newsalert \
 && mkdir -p /data \
 && chown 10001:10001 /data
# the wheels come in through a bind mount, so they never become a layer of this image
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python3 -m venv /opt/newsalert \
 && /opt/newsalert/bin/pip install --no-cache-dir --quiet --no-index --find-links /wheels --upgrade pip \
 && /opt/newsalert/bin/pip install --no-cache-dir --quiet --no-index --find-links /wheels newsalert \
 && /opt/newsalert/bin/pip uninstall --quiet --yes pip
COPY config /app/config
ENV PATH=/opt/newsalert/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSALERT_CONFIG=/app/config/newsalert.yaml \
    NEWSALERT_DATABASE_URL=sqlite:////data/newsalert.db
WORKDIR /data
VOLUME /data
USER 10001:10001
EXPOSE 8080
# 200 while the scheduler ticks; urlopen raises on a 503, so the check fails with the reason
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('NEWSALERT_HTTP_PORT', '8080'), timeout=4)"]
# exec form: newsalert is PID 1 and gets docker stop's SIGTERM itself
CMD ["newsalert", "run"]
