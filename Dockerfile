# syntax=docker/dockerfile:1
#
# The platform's image: one `server` binary (web + job workers, or workers only with
# `worker`), the portal assets built by cargo-leptos and the POS PWA built by trunk.
#
#   docker build -t odoo-saas .
#   docker run --rm --env-file .env odoo-saas migrate
#
# The tool versions below are the ones pinned in scripts/ensure-tools.sh; keep them in step.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

###############################################################################
# Builder: Rust toolchain + pinned build tools, then the release build.
###############################################################################
FROM ${RUST_IMAGE} AS builder

ARG CARGO_LEPTOS_VERSION=0.3.10
ARG WASM_BINDGEN_VERSION=0.2.130
ARG TRUNK_VERSION=0.21.14
ARG BINARYEN_VERSION=132.0.0

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# node/npm only to install binaryen's wasm-opt from npm: Debian's binaryen is too old and
# breaks on the wasm that wasm-bindgen 0.2.130 emits.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*

# wasm-opt from npm, first on PATH so cargo-leptos and trunk use it.
RUN npm install --global --prefix /opt/binaryen --no-audit --no-fund "binaryen@${BINARYEN_VERSION}" \
 && /opt/binaryen/bin/wasm-opt --version
ENV PATH="/opt/binaryen/bin:${PATH}"

RUN rustup target add wasm32-unknown-unknown

# Pinned cargo tools (their own layers, so a source change does not rebuild them).
# wasm-bindgen-cli without --locked: its lockfile pins a webpki-roots release crates.io
# no longer serves.
RUN cargo install --locked "cargo-leptos@${CARGO_LEPTOS_VERSION}" \
 && cargo install "wasm-bindgen-cli@${WASM_BINDGEN_VERSION}" \
 && cargo install --locked "trunk@${TRUNK_VERSION}" \
 && rm -rf "${CARGO_HOME}/registry" "${CARGO_HOME}/git"

WORKDIR /src
COPY . .

# The release build. The cargo registry and target/ live in BuildKit cache mounts, so
# the outputs are copied to /out inside the same step.
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=saas-target,target=/src/target \
    cargo leptos build --release \
 && trunk build --release \
 && mkdir -p /out \
 && cp target/release/server /out/server \
 && cp -r target/site /out/site \
 && cp -r target/pos-dist /out/pos-dist

###############################################################################
# Runtime: small Debian with pg_dump (tenant backups) and CA roots, non-root.
###############################################################################
FROM ${RUNTIME_IMAGE} AS runtime

# The same uid/gid as the `odoo` user of the official odoo:18 image, so the server, the
# worker and both Odoo processes can all read and write the shared odoo-data volume
# (tenant filestores). Change both if your Odoo image uses other ids.
ARG APP_UID=101
ARG APP_GID=101

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-client curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${APP_GID}" saas \
 && useradd --system --uid "${APP_UID}" --gid saas --home-dir /app --shell /usr/sbin/nologin saas \
 && mkdir -p /app /var/lib/saas/backups /var/lib/odoo/filestore \
 && chown -R saas:saas /var/lib/saas /var/lib/odoo

WORKDIR /app
COPY --from=builder --chown=root:root /out/server /app/server
COPY --from=builder --chown=root:root /out/site /app/site
COPY --from=builder --chown=root:root /out/pos-dist /app/pos-dist

ENV BIND_ADDR=0.0.0.0:3000 \
    SITE_ROOT=site \
    POS_DIST_DIR=pos-dist \
    BACKUP_DIR=/var/lib/saas/backups \
    ODOO_FILESTORE_DIR=/var/lib/odoo/filestore \
    LOG_FORMAT=json \
    RUST_LOG=info

USER ${APP_UID}:${APP_GID}
EXPOSE 3000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:3000/healthz"]

# tini reaps pg_dump children and forwards SIGTERM for a graceful shutdown.
ENTRYPOINT ["/usr/bin/tini", "--", "/app/server"]
CMD ["serve"]
