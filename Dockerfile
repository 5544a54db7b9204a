# syntax=docker/dockerfile:1
# The operator image: one static (musl) binary on distroless, running as 65532.
#
#   docker build -t ghcr.io/openclaw-rs/openclaw-operator:v0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... .   (native build per platform)
#
# The Helm chart runs `/openclaw-operator run ...`.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS build
# Alpine's Rust targets musl, which links statically; ring needs a C compiler and musl headers.
RUN apk add --no-cache gcc musl-dev
WORKDIR /src
COPY . .
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    RUSTFLAGS="-C target-feature=+crt-static"
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p openclaw-operator \
    && install -D -m 0755 target/release/openclaw-operator /out/openclaw-operator \
    && /out/openclaw-operator version

FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.title="openclaw-operator" \
      org.opencontainers.image.description="Kubernetes operator for OpenClaw AI-agent gateways" \
      org.opencontainers.image.source="https://github.com/openclaw-rs/openclaw-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/openclaw-operator /openclaw-operator
USER 65532:65532
ENTRYPOINT ["/openclaw-operator"]
CMD ["run"]
