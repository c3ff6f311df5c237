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
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// MinIO is a MinIO server on loopback (see S3API).
type MinIO struct {
	S3API
	// RootUser and RootPassword are the administrator's credentials.
	RootUser, RootPassword string
	// Output holds the server's stdout and stderr.
	Output *LogBuffer

	proc   *process
	madmin *madmin.AdminClient
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
		S3API: S3API{
			Endpoint:  net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
			transport: &http.Transport{TLSClientConfig: opts.CA.TLSConfig()},
		},
		RootUser:     "localenv-root",
		RootPassword: randomHex(16),
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

	if m.admin, err = m.NewClient(m.RootUser, m.RootPassword); err != nil {
		return nil, err
	}
	m.madmin, err = madmin.NewWithOptions(m.Endpoint, &madmin.Options{
		Creds:     credentials.NewStaticV4(m.RootUser, m.RootPassword, ""),
		Secure:    true,
		Transport: m.transport,
	})
	if err != nil {
		return nil, fmt.Errorf("creating MinIO admin client: %w", err)
	}
	if err := m.startInsecureProxy("MinIO"); err != nil {
		return nil, err
	}
	return m, nil
}

// Stop ends the server and the proxy. The caller removes the data directory.
func (m *MinIO) Stop() error {
	m.closeAPI()
	if m.proc == nil {
		return nil
	}
	return m.proc.stop(10 * time.Second)
}

// Name returns "MinIO".
func (m *MinIO) Name() string { return "MinIO" }

// CreateUser adds a user and attaches one of MinIO's canned policies to it, for
// example "readwrite", "readonly" or "writeonly" (those apply to every bucket).
func (m *MinIO) CreateUser(ctx context.Context, accessKey, secretKey, cannedPolicy string) error {
	if err := m.madmin.AddUser(ctx, accessKey, secretKey); err != nil {
		return fmt.Errorf("adding MinIO user %q: %w", accessKey, err)
	}
	_, err := m.madmin.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{cannedPolicy}, User: accessKey})
	if err != nil {
		return fmt.Errorf("attaching policy %q to MinIO user %q: %w", cannedPolicy, accessKey, err)
	}
	return nil
}

// CreateUserWithPolicy adds a user and a policy of its own (named after the user) from
// an IAM policy document, such as one from BucketPolicy.
func (m *MinIO) CreateUserWithPolicy(ctx context.Context, accessKey, secretKey string, policy []byte) error {
	name := "localenv-" + accessKey
	if err := m.madmin.AddCannedPolicy(ctx, name, policy); err != nil {
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
