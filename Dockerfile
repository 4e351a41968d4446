# Multi-stage build: a static binary on an empty base, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/fhirseal ./cmd/fhirseal \
 && mkdir -p /out/data && chown 65532:65532 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/fhirseal /fhirseal
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
EXPOSE 8080
ENV FHIRSEAL_ADDR=0.0.0.0:8080 FHIRSEAL_DATA=/data
ENTRYPOINT ["/fhirseal"]
CMD ["serve"]
