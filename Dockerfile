# Patchbay in a container: Node 22 on Debian bookworm (node:sqlite, so no native build), redis-server from
# Debian for the embedded Redis, a non-root user, data_dir as a volume. docs/operations.md, "Packaging".
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: better-sqlite3 (only for Node 20) is not built; Node 22 uses node:sqlite.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin bin
COPY bridges bridges
COPY config config
COPY core core
COPY homeserver homeserver
COPY matrix-types matrix-types
COPY registration registration
COPY testkit testkit
COPY scripts scripts
RUN node node_modules/typescript/bin/tsc -p tsconfig.json \
 && rm -rf dist/bridges/*/test \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/patchbay --no-create-home patchbay \
 && install -d -o patchbay -g patchbay -m 0700 /var/lib/patchbay
WORKDIR /opt/patchbay
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/scripts/patchbay.mjs scripts/patchbay.mjs
COPY --from=build /src/scripts/bootstrap/buildStamp.mjs scripts/bootstrap/buildStamp.mjs
COPY config/defaults.yaml config/defaults.yaml
COPY docs docs
COPY deploy/patchbay.yaml /etc/patchbay/patchbay.yaml
ENV NODE_ENV=production \
    PATCHBAY_CONFIG=/etc/patchbay/patchbay.yaml \
    PATCHBAY_BIND=0.0.0.0
USER patchbay
VOLUME ["/var/lib/patchbay"]
EXPOSE 8008
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/patchbay/scripts/patchbay.mjs"]
CMD ["start"]
