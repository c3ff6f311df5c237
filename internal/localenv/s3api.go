package localenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is an S3 server on loopback that stores can point at: MinIO or SeaweedFS.
// The suites run the same stores against either.
type S3Server interface {
	// Name is the product, as messages and test names say it: "MinIO", "SeaweedFS".
	Name() string
	// Endpoints are host:port of the TLS listener and of its plain-HTTP front door.
	Endpoints() (tlsEndpoint, plainEndpoint string)
	NewClient(accessKey, secretKey string) (*minio.Client, error)
	MakeBucket(ctx context.Context, bucket string) error
	ListObjects(ctx context.Context, bucket, prefix string) ([]string, error)
	ListIncompleteUploads(ctx context.Context, bucket, prefix string) ([]minio.ObjectMultipartInfo, error)
	Stop() error
}

var (
	_ S3Server = &MinIO{}
	_ S3Server = &SeaweedFS{}
)

// S3API is what MinIO and SeaweedFS share: a TLS listener with a certificate from the
// environment's CA, a plain-HTTP front door to it for stores with `insecure: true`
// (Kratix then talks plain HTTP), and the administrator's client.
type S3API struct {
	// Endpoint is host:port of the TLS listener, as a BucketStateStore's spec.endpoint.
	Endpoint string
	// InsecureEndpoint is host:port of a plain-HTTP proxy to the same server. The proxy
	// keeps the Host header, so S3 signatures made for it still verify.
	InsecureEndpoint string

	transport *http.Transport
	proxy     *http.Server
	// admin is the administrator's client.
	admin *minio.Client
}

// Endpoints returns Endpoint and InsecureEndpoint.
func (a *S3API) Endpoints() (string, string) { return a.Endpoint, a.InsecureEndpoint }

// startInsecureProxy serves plain HTTP on a free port and forwards every request to the
// TLS listener with its Host header unchanged.
func (a *S3API) startInsecureProxy(name string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the plain-HTTP %s proxy: %w", name, err)
	}
	a.InsecureEndpoint = l.Addr().String()
	target := &url.URL{Scheme: "https", Host: a.Endpoint}
	a.proxy = &http.Server{
		Handler: &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = r.In.Host
			},
			Transport: a.transport,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = a.proxy.Serve(l) }()
	return nil
}

// closeAPI stops the plain-HTTP proxy and drops idle connections.
func (a *S3API) closeAPI() {
	if a.proxy != nil {
		_ = a.proxy.Close()
	}
	if a.transport != nil {
		a.transport.CloseIdleConnections()
	}
}

// NewClient returns an S3 client for the TLS listener with the given credentials.
func (a *S3API) NewClient(accessKey, secretKey string) (*minio.Client, error) {
	c, err := minio.New(a.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure:    true,
		Transport: a.transport,
	})
	if err != nil {
		return nil, fmt.Errorf("creating an S3 client for %s: %w", a.Endpoint, err)
	}
	return c, nil
}

// MakeBucket creates a bucket.
func (a *S3API) MakeBucket(ctx context.Context, bucket string) error {
	if err := a.admin.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("creating bucket %q: %w", bucket, err)
	}
	return nil
}

// ListObjects returns the keys of every object in bucket under prefix.
func (a *S3API) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	for obj := range a.admin.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("listing objects in %q: %w", bucket, obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys, nil
}

// ListIncompleteUploads returns the multipart uploads in bucket that were started and
// neither completed nor aborted. MinIO matches prefix only when it is empty (every
// upload) or a whole object key: "a/" finds nothing under "a/b/key".
func (a *S3API) ListIncompleteUploads(ctx context.Context, bucket, prefix string) ([]minio.ObjectMultipartInfo, error) {
	var uploads []minio.ObjectMultipartInfo
	for u := range a.admin.ListIncompleteUploads(ctx, bucket, prefix, true) {
		if u.Err != nil {
			return nil, fmt.Errorf("listing incomplete uploads in %q: %w", bucket, u.Err)
		}
		uploads = append(uploads, u)
	}
	return uploads, nil
}
