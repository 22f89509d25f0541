# Multi-stage: a static gtm binary on a distroless base, running as non-root.
#   docker build -t gtm .
#   docker run --rm -p 53:53/udp -p 53:53/tcp -p 8053:8053 \
#     --cap-drop ALL --cap-add NET_BIND_SERVICE gtm
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gtm ./cmd/gtm
# Binding port 53 as non-root needs CAP_NET_BIND_SERVICE: give it to the
# binary, so the container needs that one capability and no other.
RUN apt-get update -qq && apt-get install -y -qq libcap2-bin >/dev/null && \
    setcap cap_net_bind_service=+ep /out/gtm && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gtm /usr/local/bin/gtm
COPY --from=build --chown=65532:65532 /out/state /var/lib/gtm
COPY examples/quickstart /etc/gtm
USER 65532:65532
EXPOSE 53/udp 53/tcp 8053/tcp
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/gtm"]
CMD ["serve", "--config", "/etc/gtm/docker.yaml"]
