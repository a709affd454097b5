# syntax=docker/dockerfile:1
# Switchboard in a container: the linux binary from `bun run release`, run as a non-root user,
# with the config in /etc/switchboard and the database in /var/lib/switchboard (both volumes).
#
#   docker build --build-arg COMMIT=$(git rev-parse --short HEAD) -t switchboard .
#   docker run -p 8787:8787 -v switchboard-data:/var/lib/switchboard switchboard
#
# Needs BuildKit (Docker's default builder since 23.0). docs/install.md has the details: your own
# config, the admin token, bind mounts, stop timeout.

ARG BUN_VERSION=1.4.5

# Build on the builder's own platform; bun cross-compiles for the image's (linux-x64 or linux-arm64).
FROM --platform=$BUILDPLATFORM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY . .
ARG TARGETARCH
# The build context has no .git: pass the commit for `switchboard --version`.
ARG COMMIT=unknown
RUN case "$TARGETARCH" in \
      amd64) target=linux-x64 ;; \
      arm64) target=linux-arm64 ;; \
      *) echo "no Switchboard binary for linux/$TARGETARCH" >&2; exit 1 ;; \
    esac \
 && SWITCHBOARD_COMMIT="$COMMIT" bun run release --targets "$target" --out /out \
 && mv "/out/switchboard-$target" /out/switchboard

# The binary needs only glibc (and brings its own CA certificates).
FROM debian:bookworm-slim
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/switchboard --no-create-home --shell /usr/sbin/nologin switchboard \
 && mkdir -p /etc/switchboard /var/lib/switchboard \
 && chown switchboard:switchboard /var/lib/switchboard
COPY --from=build /out/switchboard /usr/local/bin/switchboard
# The default config. It listens on all interfaces (127.0.0.1 is unreachable from outside the
# container) and keeps the database in the data volume: a config you mount over it keeps both.
COPY <<'CONFIG' /etc/switchboard/gateway.config.ts
import { defineConfig } from "switchboard";

export default defineConfig({
  server: {
    hostname: "0.0.0.0",
    port: Number(process.env.PORT ?? 8787),
    // The admin API (/client/v4/…) is off until SWITCHBOARD_ADMIN_TOKEN is set.
  },
  storage: { sqlite: "/var/lib/switchboard/switchboard.db" },
});
CONFIG
USER switchboard
WORKDIR /var/lib/switchboard
VOLUME ["/etc/switchboard", "/var/lib/switchboard"]
EXPOSE 8787
# SIGTERM (`docker stop`) is a graceful stop: requests in flight finish and the logs are flushed.
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve", "--config", "/etc/switchboard/gateway.config.ts"]
