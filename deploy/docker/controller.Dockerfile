# The controller's image: the release binary built by cargo, on a glibc base with CA certificates and a
# non-root user (distroless cc style; no shell needed). `make images` builds it on a base made from
# Debian packages. By hand, from the repository root:
#   cargo build --release --locked -p connect-warden-controller --bins
#   docker build -f deploy/docker/controller.Dockerfile --build-arg BASE_IMAGE=<e.g. distroless cc-debian12:nonroot> target/release
# The base is an argument so a release picks and pins it without editing this file.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY connect-warden-controller /usr/local/bin/connect-warden-controller
# Numeric, so runAsNonRoot can check it without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/connect-warden-controller"]
