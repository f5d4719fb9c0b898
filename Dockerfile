# A container image of the junction router: a static binary on an empty
# base, run as a user with no privileges, on the default config.
#
#   docker build -t junction --build-arg VERSION=v1.0.0 .
#   docker run -p 8080:8080 junction
#
# The config is /etc/junction/config.toml (the repository's config.toml);
# mount your own there, or set keys with -e JUNCTION_<SECTION>_<KEY>=...
# It listens on 0.0.0.0:8080 in the container (JUNCTION_SERVER_LISTEN), with
# /healthz and /metrics on the same port. HEALTHCHECK runs the binary's own
# probe, junction healthcheck, as the image has no shell or curl.

FROM docker.io/library/golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# What junction version prints; the revision is not recorded (.git is not
# copied into the build: see .dockerignore).
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/junction ./cmd/junction

FROM scratch
COPY --from=build /out/junction /usr/local/bin/junction
COPY --from=build /src/config.toml /etc/junction/config.toml
COPY --from=build /src/LICENSE /usr/share/doc/junction/LICENSE
# nobody's uid and gid (65534): no passwd file is needed to run as it.
USER 65534:65534
ENV JUNCTION_SERVER_LISTEN=0.0.0.0:8080
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s \
  CMD ["/usr/local/bin/junction", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/junction"]
CMD ["serve", "--config", "/etc/junction/config.toml"]
