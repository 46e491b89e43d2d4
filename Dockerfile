# The one image with every service binary (`shop-auth`, `shop-catalog`, …), which the operator
# runs as `shop-<service> [serve|migrate]`: `docker build -t shopkeeper/shop .` from the root.
# Services added to the workspace are picked up without editing this file.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins --exclude xtask --exclude shop-operator --exclude shop-bench \
 && mkdir /out \
 && find target/release -maxdepth 1 -type f -name 'shop-*' -perm -u+x \
      ! -name 'shop-operator' ! -name 'shop-bench' -exec cp {} /out/ \;

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# The uid the operator's restricted security context expects.
USER 10001:10001
EXPOSE 8080 9090
