# syntax=docker/dockerfile:1
# Image of the admission webhook. Build from the repository root:
#   docker build -f deploy/docker/webhook.Dockerfile -t <registry>/connect-warden/webhook:<tag> .
# Multi-stage: compiled in the Rust image, shipped on a slim glibc base without build tools, as a non-root
# numeric user (so runAsNonRoot can verify it). Any glibc runtime works, e.g. distroless cc-debian12:nonroot:
#   --build-arg RUNTIME_IMAGE=<that image>
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# Cache mounts keep the dependency downloads and build artifacts between builds; the binary is copied out
# because the cache is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p connect-warden-webhook --bin connect-warden-webhook \
    && install -D target/release/connect-warden-webhook /out/connect-warden-webhook

FROM ${RUNTIME_IMAGE}
# Public CA certificates (for Kafka Connect behind publicly trusted HTTPS); no shell needed, so this also
# works on distroless or scratch runtimes.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/connect-warden-webhook /usr/local/bin/connect-warden-webhook
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/connect-warden-webhook"]
