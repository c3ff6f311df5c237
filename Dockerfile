# Build: docker build --build-arg VERSION=$(git describe --tags --always) -t <image> .
FROM golang:1.26 AS build
# Set by buildx for each --platform; plain `docker build` leaves them empty.
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Modules first, so this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
# .dockerignore lets only the Go source through.
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/webhook ./cmd/statestore-check

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/webhook /webhook
# The offline checker, for CI: docker run --entrypoint /statestore-check <image> -
COPY --from=build /out/statestore-check /statestore-check
USER 65532:65532
ENTRYPOINT ["/webhook"]
