# syntax=docker/dockerfile:1.7
# The one image with every service binary (`shop-auth`, `shop-catalog`, …), which the operator
# runs as `shop-<service> [serve|migrate]`: `docker build -t shopkeeper/shop .` from the root.
# Services added to the workspace are picked up without editing this file.
#
# Dependencies are cached across builds with BuildKit cache mounts (the cargo registry and the
# target directory survive between builds), so an edit recompiles only the crates it touches.
# `--build-arg PROFILE=dev` builds unoptimized binaries (the Tiltfile does, for a fast loop).
FROM rust:1.95-bookworm AS build
ARG PROFILE=release
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=shop-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=shop-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=shop-target-${PROFILE},target=/src/target,sharing=locked \
    cargo build --locked --profile "$PROFILE" --workspace --bins \
      --exclude xtask --exclude shop-operator --exclude shop-bench \
 && dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE") \
 && mkdir /out \
 && find "target/$dir" -maxdepth 1 -type f -name 'shop-*' -perm -u+x \
      ! -name 'shop-operator' ! -name 'shop-bench' -exec cp {} /out/ \;

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# The uid the operator's restricted security context expects.
USER 10001:10001
EXPOSE 8080 9090
