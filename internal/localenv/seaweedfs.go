package localenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// SeaweedFS is SeaweedFS's `weed mini` on loopback: master, volume server, filer and S3
// API in one process, the S3 API serving TLS (see S3API). Kratix's quickstart runs
// SeaweedFS since August 2026. Its users are identities from -s3.config, fixed when it
// starts; an identity's actions may be scoped to one bucket.
type SeaweedFS struct {
	S3API
	// AdminAccessKey and AdminSecretKey are the administrator identity's credentials.
	AdminAccessKey, AdminSecretKey string
	// Output holds the server's stdout and stderr.
	Output *LogBuffer

	proc *process
}

// SeaweedFSOptions configures StartSeaweedFS.
type SeaweedFSOptions struct {
	// Binary is the weed binary.
	Binary string
	// Dir holds the data, the certificate and the identities; the caller removes it.
	Dir string
	// CA signs the S3 API's certificate.
	CA *CA
	// Identities are the S3 users besides the administrator.
	Identities []SeaweedFSIdentity
	// Output, when set, also receives the server's output.
	Output io.Writer
}

// SeaweedFSIdentity is an S3 user of SeaweedFS.
type SeaweedFSIdentity struct {
	Name, AccessKey, SecretKey string
	// Actions are SeaweedFS's actions, such as SeaweedFSReadWrite; "Write:<bucket>"
	// limits one to a bucket (see SeaweedFSBucketActions).
	Actions []string
}

// SeaweedFSReadWrite may read, list and write every bucket, as MinIO's canned policy
// "readwrite" may; SeaweedFSReadOnly may read and list them.
var (
	SeaweedFSReadWrite = []string{"Read", "List", "Tagging", "Write"}
	SeaweedFSReadOnly  = []string{"Read", "List"}
)

// SeaweedFSBucketActions limits actions to bucket.
func SeaweedFSBucketActions(bucket string, actions ...string) []string {
	scoped := make([]string, len(actions))
	for i, a := range actions {
		scoped[i] = a + ":" + bucket
	}
	return scoped
}

// seaweedFSPorts are the listeners weed mini opens, each given a free port: its defaults
// collide with other services.
var seaweedFSPorts = []string{
	"master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
	"filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
}

// StartSeaweedFS starts weed mini and waits until its S3 API lists buckets for the
// administrator.
func StartSeaweedFS(ctx context.Context, opts SeaweedFSOptions) (_ *SeaweedFS, retErr error) {
	dataDir, certsDir := filepath.Join(opts.Dir, "data"), filepath.Join(opts.Dir, "certs")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := opts.CA.WriteServingCert(certsDir, "tls.crt", "tls.key"); err != nil {
		return nil, err
	}
	free, err := testkit.FreePorts(len(seaweedFSPorts))
	if err != nil {
		return nil, err
	}
	ports := map[string]int{}
	for i, name := range seaweedFSPorts {
		ports[name] = free[i]
	}
	s := &SeaweedFS{
		S3API: S3API{
			Endpoint:  net.JoinHostPort("127.0.0.1", strconv.Itoa(ports["s3.port"])),
			transport: &http.Transport{TLSClientConfig: opts.CA.TLSConfig()},
		},
		AdminAccessKey: "localenv-admin",
		AdminSecretKey: randomHex(16),
	}
	identities := append([]SeaweedFSIdentity{{Name: "localenv-admin", AccessKey: s.AdminAccessKey, SecretKey: s.AdminSecretKey, Actions: []string{"Admin", "Read", "List", "Tagging", "Write"}}}, opts.Identities...)
	config := filepath.Join(opts.Dir, "identities.json")
	if err := writeSeaweedFSIdentities(config, identities); err != nil {
		return nil, err
	}
	args := []string{"mini",
		"-dir=" + dataDir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3.config=" + config,
		"-s3.cert.file=" + filepath.Join(certsDir, "tls.crt"), "-s3.key.file=" + filepath.Join(certsDir, "tls.key"),
		// Only the S3 API: no WebDAV, admin UI, Iceberg or Lance listeners, no legacy
		// admin port, and no anonymous statistics sent out.
		"-webdav=false", "-admin.ui=false", "-admin.port.legacy=0", "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-master.telemetry=false",
	}
	for _, name := range seaweedFSPorts {
		args = append(args, fmt.Sprintf("-%s=%d", name, ports[name]))
	}
	// Its sockets would otherwise go to /tmp under the port's number.
	args = append(args, "-filer.localSocket="+filepath.Join(opts.Dir, "filer.sock"), "-s3.localSocket="+filepath.Join(opts.Dir, "s3.sock"))
	s.proc, err = startProcess("seaweedfs", opts.Binary, args, inheritEnv([]string{"WEED_", "AWS_", "S3_"}), opts.Output)
	if err != nil {
		return nil, err
	}
	s.Output = s.proc.out
	defer func() {
		if retErr != nil {
			_ = s.Stop()
		}
	}()

	if s.admin, err = s.NewClient(s.AdminAccessKey, s.AdminSecretKey); err != nil {
		return nil, err
	}
	// The S3 API listens before the filer behind it is ready; listing the buckets needs
	// both.
	err = poll(ctx, 90*time.Second, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if done, _ := s.proc.exited(); done {
			return false, "", fmt.Errorf("%s", s.proc.describeExit())
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := s.admin.ListBuckets(ctx); err != nil {
			return false, "listing buckets: " + err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for SeaweedFS on %s: %w", s.Endpoint, err)
	}
	if err := s.startInsecureProxy("SeaweedFS"); err != nil {
		return nil, err
	}
	return s, nil
}

// writeSeaweedFSIdentities writes the -s3.config file.
func writeSeaweedFSIdentities(path string, identities []SeaweedFSIdentity) error {
	type credential struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string       `json:"name"`
		Credentials []credential `json:"credentials"`
		Actions     []string     `json:"actions"`
	}
	var doc struct {
		Identities []identity `json:"identities"`
	}
	for _, id := range identities {
		doc.Identities = append(doc.Identities, identity{Name: id.Name, Credentials: []credential{{id.AccessKey, id.SecretKey}}, Actions: id.Actions})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// StaticCredentials is a credential source for the instance metadata stand-in that
// hands out a user's own keys, without a session token: for SeaweedFS, which has no STS
// here.
func StaticCredentials(accessKey, secretKey string) IMDSCredentialSource {
	return func(context.Context) (credentials.Value, error) {
		return credentials.Value{AccessKeyID: accessKey, SecretAccessKey: secretKey, SignerType: credentials.SignatureV4}, nil
	}
}

// Name returns "SeaweedFS".
func (s *SeaweedFS) Name() string { return "SeaweedFS" }

// Stop ends the server and the proxy. The caller removes the data directory.
func (s *SeaweedFS) Stop() error {
	s.closeAPI()
	if s.proc == nil {
		return nil
	}
	return s.proc.stop(10 * time.Second)
}
