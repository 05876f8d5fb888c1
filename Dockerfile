# newsalert image: multi-stage, runs as a non-root user, keeps its data in /data.
# BASE_IMAGE must provide python3 (>= 3.11) with venv; any Debian-based Python image does.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
RUN python3 -m venv /opt/newsalert
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/newsalert/bin/pip install --no-cache-dir --quiet --upgrade pip \
 && /opt/newsalert/bin/pip install --no-cache-dir --quiet .

FROM ${BASE_IMAGE}
RUN useradd --system --create-home --uid 10001 newsalert \
 && mkdir -p /data \
 && chown newsalert /data
COPY --from=build /opt/newsalert /opt/newsalert
COPY config /app/config
ENV PATH=/opt/newsalert/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NEWSALERT_CONFIG=/app/config/newsalert.yaml \
    NEWSALERT_DATABASE_URL=sqlite:////data/newsalert.db
WORKDIR /data
VOLUME /data
USER newsalert
EXPOSE 8080
CMD ["newsalert", "run"]
