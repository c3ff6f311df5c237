package localenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kratix-community/bucketstatestore-webhook/internal/testkit"
)

// MinIO is a MinIO server on loopback, serving TLS with a certificate from the
// environment's CA, plus a plain-HTTP front door to the same server for stores with
// `insecure: true` (Kratix then talks plain HTTP).
type MinIO struct {
	// Endpoint is host:port of the TLS listener, as a BucketStateStore's spec.endpoint.
	Endpoint string
	// InsecureEndpoint is host:port of a plain-HTTP proxy to the same server. The proxy
	// keeps the Host header, so S3 signatures made for it still verify.
	InsecureEndpoint string
	// RootUser and RootPassword are the administrator's credentials.
	RootUser, RootPassword string
	// Output holds the server's stdout and stderr.
	Output *LogBuffer

	proc      *process
	client    *minio.Client
	admin     *madmin.AdminClient
	transport *http.Transport
	proxy     *http.Server
}

// MinIOOptions configures StartMinIO.
type MinIOOptions struct {
	// Binary is the minio server binary.
	Binary string
	// Dir holds the data and certificates; the caller removes it.
	Dir string
	// CA signs the server's certificate.
	CA *CA
	// Output, when set, also receives the server's output.
	Output io.Writer
}

// StartMinIO starts a MinIO server and waits until /minio/health/ready answers.
func StartMinIO(ctx context.Context, opts MinIOOptions) (_ *MinIO, retErr error) {
	dataDir, certsDir := filepath.Join(opts.Dir, "data"), filepath.Join(opts.Dir, "certs")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := opts.CA.WriteServingCert(certsDir, "public.crt", "private.key"); err != nil {
		return nil, err
	}
	ports, err := testkit.FreePorts(2)
	if err != nil {
		return nil, err
	}
	m := &MinIO{
		Endpoint:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		RootUser:     "localenv-root",
		RootPassword: randomHex(16),
		transport:    &http.Transport{TLSClientConfig: opts.CA.TLSConfig()},
	}
	env := inheritEnv([]string{"MINIO_", "AWS_"},
		"MINIO_ROOT_USER="+m.RootUser,
		"MINIO_ROOT_PASSWORD="+m.RootPassword,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	args := []string{"server",
		"--address", m.Endpoint,
		"--console-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		"--certs-dir", certsDir,
		"--quiet", dataDir,
	}
	m.proc, err = startProcess("minio", opts.Binary, args, env, opts.Output)
	if err != nil {
		return nil, err
	}
	m.Output = m.proc.out
	defer func() {
		if retErr != nil {
			_ = m.Stop()
		}
	}()

	health := &http.Client{Transport: m.transport, Timeout: 2 * time.Second}
	err = poll(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if done, _ := m.proc.exited(); done {
			return false, "", fmt.Errorf("%s", m.proc.describeExit())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.Endpoint+"/minio/health/ready", nil)
		resp, err := health.Do(req)
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, "GET /minio/health/ready: " + resp.Status, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for MinIO on %s: %w", m.Endpoint, err)
	}

	if m.client, err = m.NewClient(m.RootUser, m.RootPassword); err != nil {
		return nil, err
	}
	m.admin, err = madmin.NewWithOptions(m.Endpoint, &madmin.Options{
		Creds:     credentials.NewStaticV4(m.RootUser, m.RootPassword, ""),
		Secure:    true,
		Transport: m.transport,
	})
	if err != nil {
		return nil, fmt.Errorf("creating MinIO admin client: %w", err)
	}
	if err := m.startInsecureProxy(); err != nil {
		return nil, err
	}
	return m, nil
}

// startInsecureProxy serves plain HTTP on a free port and forwards every request to the
// TLS listener with its Host header unchanged.
func (m *MinIO) startInsecureProxy() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the plain-HTTP MinIO proxy: %w", err)
	}
	m.InsecureEndpoint = l.Addr().String()
	target := &url.URL{Scheme: "https", Host: m.Endpoint}
	m.proxy = &http.Server{
		Handler: &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = r.In.Host
			},
			Transport: m.transport,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = m.proxy.Serve(l) }()
	return nil
}

// Stop ends the server and the proxy. The caller removes the data directory.
func (m *MinIO) Stop() error {
	if m.proxy != nil {
		_ = m.proxy.Close()
	}
	if m.transport != nil {
		m.transport.CloseIdleConnections()
	}
	if m.proc == nil {
		return nil
	}
	return m.proc.stop(10 * time.Second)
}

// NewClient returns an S3 client for the TLS listener with the given credentials.
func (m *MinIO) NewClient(accessKey, secretKey string) (*minio.Client, error) {
	c, err := minio.New(m.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure:    true,
		Transport: m.transport,
	})
	if err != nil {
		return nil, fmt.Errorf("creating MinIO client: %w", err)
	}
	return c, nil
}

// Client returns the root user's S3 client.
func (m *MinIO) Client() *minio.Client { return m.client }

// MakeBucket creates a bucket.
func (m *MinIO) MakeBucket(ctx context.Context, bucket string) error {
	if err := m.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("creating bucket %q: %w", bucket, err)
	}
	return nil
}

// CreateUser adds a user and attaches one of MinIO's canned policies to it, for
// example "readwrite", "readonly" or "writeonly" (those apply to every bucket).
func (m *MinIO) CreateUser(ctx context.Context, accessKey, secretKey, cannedPolicy string) error {
	if err := m.admin.AddUser(ctx, accessKey, secretKey); err != nil {
		return fmt.Errorf("adding MinIO user %q: %w", accessKey, err)
	}
	_, err := m.admin.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{cannedPolicy}, User: accessKey})
	if err != nil {
		return fmt.Errorf("attaching policy %q to MinIO user %q: %w", cannedPolicy, accessKey, err)
	}
	return nil
}

// CreateUserWithPolicy adds a user and a policy of its own (named after the user) from
// an IAM policy document, such as one from BucketPolicy.
func (m *MinIO) CreateUserWithPolicy(ctx context.Context, accessKey, secretKey string, policy []byte) error {
	name := "localenv-" + accessKey
	if err := m.admin.AddCannedPolicy(ctx, name, policy); err != nil {
		return fmt.Errorf("adding MinIO policy %q: %w", name, err)
	}
	return m.CreateUser(ctx, accessKey, secretKey, name)
}

// BucketPolicy returns an IAM policy document allowing actions on bucket and its
// objects, for example ReadOnlyActions.
func BucketPolicy(bucket string, actions ...string) []byte {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":   "Allow",
			"Action":   actions,
			"Resource": []string{"arn:aws:s3:::" + bucket, "arn:aws:s3:::" + bucket + "/*"},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return b
}

// ReadOnlyActions may see a bucket and read its objects but not write to it.
var ReadOnlyActions = []string{"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"}

// ListObjects returns the keys of every object in bucket under prefix.
func (m *MinIO) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	for obj := range m.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
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
func (m *MinIO) ListIncompleteUploads(ctx context.Context, bucket, prefix string) ([]minio.ObjectMultipartInfo, error) {
	var uploads []minio.ObjectMultipartInfo
	for u := range m.client.ListIncompleteUploads(ctx, bucket, prefix, true) {
		if u.Err != nil {
			return nil, fmt.Errorf("listing incomplete uploads in %q: %w", bucket, u.Err)
		}
		uploads = append(uploads, u)
	}
	return uploads, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
