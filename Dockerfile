# The reference server (superdynamic-server) as a container image.
#   docker compose up --build      (or: podman build -t superdynamic-server . && podman run ...)
# Configuration is environment variables, one per server flag: SUPERDYNAMIC_SERVER_<FLAG> (see README).

# Build with the toolchain CI uses.
FROM docker.io/library/rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p superdynamic-server

# Run on a small base as a non-root user; the SQLite database lives on the /data volume.
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin superdynamic \
    && mkdir -p /data && chown superdynamic /data
COPY --from=build /src/target/release/superdynamic-server /usr/local/bin/superdynamic-server
# Beyond loopback the server also needs SUPERDYNAMIC_SERVER_PUBLIC_URL (the URL clients use, which becomes the
# issuer) or TLS files; without either it refuses to start, so tokens never name an unreachable issuer.
ENV SUPERDYNAMIC_SERVER_BIND=0.0.0.0 \
    SUPERDYNAMIC_SERVER_PORT=8000 \
    SUPERDYNAMIC_SERVER_DB=/data/server.db
VOLUME /data
USER superdynamic
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD curl -fsS --insecure "$( [ -n "$SUPERDYNAMIC_SERVER_TLS_CERT" ] && echo https || echo http )://127.0.0.1:${SUPERDYNAMIC_SERVER_PORT}/health" || exit 1
ENTRYPOINT ["/usr/local/bin/superdynamic-server"]
