# The image of cwctl, for CI jobs that run `cwctl validate` in a container: the release binary built by
# cargo (the kubectl plugin is the same program under another name, for hosts with kubectl; not needed here), on the same glibc base as the other images. From the repository root:
#   cargo build --release --locked -p connect-warden-cli --bins
#   docker build -f deploy/docker/cli.Dockerfile --build-arg BASE_IMAGE=<e.g. distroless cc-debian12:nonroot> target/release
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY cwctl /usr/local/bin/cwctl
# Numeric, so runAsNonRoot can check it without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/cwctl"]
