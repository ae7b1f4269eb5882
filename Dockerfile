# certhook in a container: `certhook serve` (web processes and the job runner) as a non-root user.
# The settings are read from /etc/certhook/certhook.yaml (mount it), secrets from the environment.
#   docker build -t certhook .
#   docker run -p 8000:8000 -v $PWD/certhook.yaml:/etc/certhook/certhook.yaml:ro certhook
# compose.yaml runs it with PostgreSQL and a separate worker.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY plugin ./plugin
COPY deploy/install.sh ./deploy/install.sh
RUN python -m venv /opt/certhook && PIP=/opt/certhook/bin/pip sh deploy/install.sh postgres

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/certhook certhook
COPY --from=build /opt/certhook /opt/certhook
ENV PATH=/opt/certhook/bin:$PATH \
    CERTHOOK_CONFIG=/etc/certhook/certhook.yaml \
    PYTHONUNBUFFERED=1
USER certhook
WORKDIR /var/lib/certhook
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
# SIGTERM: running jobs get the graceful timeout, the rest are handed back.
STOPSIGNAL SIGTERM
CMD ["certhook", "serve", "--bind", "0.0.0.0:8000"]
