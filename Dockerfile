# The loyaltyhooks image that the Helm chart (charts/loyaltyhooks) refers to: one static binary,
# CA certificates for TLS, nothing else, run as an unprivileged user. Not built by CI.
#   docker build -t loyaltyhooks/loyaltyhooks:0.1.0 .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/loyaltyhooks ./cmd/loyaltyhooks

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/loyaltyhooks /usr/local/bin/loyaltyhooks
# The chart runs pods as this user with a read-only root filesystem.
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/loyaltyhooks"]
CMD ["--help"]
