// Package integration drives the real webhook binary through a real kube-apiserver,
// kubectl and MinIO, all started once by TestMain through internal/localenv.
package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

var (
	// env is the environment every test shares.
	env *localenv.Env
	// imds stands in for the instance metadata service the webhook's IAM credential
	// chain asks (--iam-endpoint); its role is a MinIO user, through MinIO's STS.
	imds *localenv.IMDS
	// webhookArgs are the flags the suite gives the webhook.
	webhookArgs []string
	// retiredWebhookOutput is what webhooks that a test stopped wrote.
	retiredWebhookOutput recorder
	// k8sClient is an administrator's client that knows BucketStateStores.
	k8sClient client.Client
	// fixtures names what TestMain created for the tests to refer to.
	fixtures fixtureSet
	// seaweed is the second S3 server, Kratix's quickstart backend, with the same
	// buckets and users as env.MinIO; seaweedFixtures are fixtures pointed at it.
	seaweed         *localenv.SeaweedFS
	seaweedFixtures fixtureSet
	// gitHTTP serves the Git repositories over smart HTTP (git http-backend) and gitSSH
	// the same repositories over SSH, for the GitStateStores' probes.
	gitHTTP *localenv.GitServer
	gitSSH  *localenv.GitSSHServer
	// testSecrets are secrets that tests made, one a line, for checkNoSecretLeaked.
	testSecrets recorder
)

// fixtureSet is what every scenario's YAML can refer to as {{.Field}}.
type fixtureSet struct {
	// Endpoint is MinIO's TLS listener and InsecureEndpoint its plain-HTTP one;
	// ClosedEndpoint is a local port nothing listens on.
	Endpoint, InsecureEndpoint, ClosedEndpoint string
	// Bucket exists; MissingBucket does not. IAMBucket exists for the IAM examples.
	Bucket, MissingBucket, IAMBucket string
	// Secret (in default, like every Secret here) holds a user that may read and write
	// every bucket; ReadOnlySecret one that may only read Bucket; OtherBucketSecret one
	// that may only use IAMBucket. Both S3 servers know these users.
	Secret, ReadOnlySecret, OtherBucketSecret string
	// WrongSecretKeySecret holds the writer's access key with a wrong secret key, and
	// UnknownAccessKeySecret an access key MinIO does not know.
	WrongSecretKeySecret, UnknownAccessKeySecret string
	// NoAccessKeyIDSecret and NoSecretAccessKeySecret each lack one key;
	// EmptySecretAccessKeySecret has both, one of them empty.
	NoAccessKeyIDSecret, NoSecretAccessKeySecret, EmptySecretAccessKeySecret string
	// GitURL is the HTTPS URL of a repository with branch main (self-signed: a store
	// reaches it with insecure unset or true), GitServer its https://host:port;
	// GitSSHURL the same repository over SSH as ssh://git@host:port/path.
	GitURL, GitServer, GitSSHURL string
	// Name is the scenario's own store name, filled in per scenario.
	Name string
}

// The writer's and the reader's MinIO credentials. They are test data, and the tests
// search what the webhook wrote for them.
const (
	writerAccessKey, writerSecretKey = "kratix-writer", "kratix-writer-secret"
	readerAccessKey, readerSecretKey = "kratix-reader", "kratix-reader-secret"
	otherAccessKey, otherSecretKey   = "kratix-other-bucket", "kratix-other-bucket-secret"
	roleAccessKey, roleSecretKey     = "kratix-instance-role", "kratix-instance-role-secret"
	wrongSecretKey                   = "not-the-writer-secret"
	// gitWrongPassword is a password the Git server refuses.
	gitWrongPassword = "not-the-git-password"
	unknownAccessKey = "nobody-has-this-key"
)

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; without a logger it prints a warning
	// instead of its messages.
	ctrllog.SetLogger(funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{}))
	suite := testkit.Suite{Name: "integration environment", Start: startSuite, Stop: stopSuite}
	os.Exit(suite.Run(func() int {
		code := m.Run()
		if err := checkNoSecretLeaked(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
			return 1
		}
		return code
	}))
}

// startSuite starts the metadata stand-in and the environment, and creates the fixtures.
func startSuite(ctx context.Context) (err error) {
	// The role's credentials come once MinIO runs (see setUp).
	if imds, err = localenv.StartIMDS(localenv.IMDSOptions{}); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = stopSuite()
		}
	}()
	// Debug logs, so that the search for leaked secrets covers everything the webhook
	// can log.
	// The local MinIO listens on 127.0.0.1: listing it lets the IAM stores there be probed
	// with the role's credentials. The delete guard looks for the Destination CRD every
	// second, not every 30, so that TestDeleteGuard need not wait.
	webhookArgs = []string{"--zap-log-level=debug", "--probe-timeout=" + probeTimeout, "--iam-endpoint=" + imds.URL,
		"--iam-endpoints=127.0.0.1", "--destination-crd-poll-interval=1s"}
	// With client authentication, as it should be deployed: every scenario's admission
	// also proves that the API server presents its client certificate.
	if env, err = localenv.Start(ctx, localenv.Options{Progress: os.Stderr, WebhookArgs: webhookArgs, AuditPolicy: auditPolicy, ClientAuth: true}); err != nil {
		return err
	}
	if err := setUp(context.Background()); err != nil {
		return fmt.Errorf("setting up the integration fixtures: %w", err)
	}
	if err := startGitServers(); err != nil {
		return err
	}
	return startSeaweedFS(ctx)
}

// startSeaweedFS starts SeaweedFS with the users and buckets setUp gave MinIO.
func startSeaweedFS(ctx context.Context) error {
	binary, err := localenv.BuildSeaweedFS(ctx, env.Root, os.Stderr)
	if err != nil {
		return err
	}
	step := time.Now()
	seaweed, err = localenv.StartSeaweedFS(ctx, localenv.SeaweedFSOptions{
		Binary: binary,
		Dir:    filepath.Join(env.WorkDir, "seaweedfs"),
		CA:     env.CA,
		Identities: []localenv.SeaweedFSIdentity{
			{Name: "writer", AccessKey: writerAccessKey, SecretKey: writerSecretKey, Actions: localenv.SeaweedFSReadWrite},
			{Name: "reader", AccessKey: readerAccessKey, SecretKey: readerSecretKey, Actions: localenv.SeaweedFSBucketActions(fixtures.Bucket, localenv.SeaweedFSReadOnly...)},
			{Name: "other-bucket", AccessKey: otherAccessKey, SecretKey: otherSecretKey, Actions: localenv.SeaweedFSBucketActions(fixtures.IAMBucket, localenv.SeaweedFSReadWrite...)},
		},
	})
	if err != nil {
		return err
	}
	for _, bucket := range []string{fixtures.Bucket, fixtures.IAMBucket} {
		if err := seaweed.MakeBucket(ctx, bucket); err != nil {
			return err
		}
	}
	seaweedFixtures = fixtures
	seaweedFixtures.Endpoint, seaweedFixtures.InsecureEndpoint = seaweed.Endpoints()
	version, _ := localenv.BinaryVersion(ctx, binary, "version")
	fmt.Fprintf(os.Stderr, "SeaweedFS %s serving https://%s (plain-HTTP proxy %s) in %s\n", version, seaweed.Endpoint, seaweed.InsecureEndpoint, time.Since(step).Round(time.Millisecond))
	return nil
}

// startGitServers starts the Git servers over HTTPS and SSH, and names their repository
// in the fixtures.
func startGitServers() (err error) {
	dir := filepath.Join(env.WorkDir, "git-servers")
	if gitHTTP, err = localenv.StartGitServer(dir); err != nil {
		return fmt.Errorf("starting the Git server: %w", err)
	}
	if gitSSH, err = localenv.StartGitSSHServer(gitHTTP.Root); err != nil {
		return fmt.Errorf("starting the Git SSH server: %w", err)
	}
	fixtures.GitServer = gitHTTP.URL
	fixtures.GitURL = gitHTTP.URL + "/" + localenv.GitRepository
	fixtures.GitSSHURL = gitSSH.URL
	fmt.Fprintf(os.Stderr, "Git serving %s and %s\n", fixtures.GitURL, fixtures.GitSSHURL)
	return nil
}

// stopSuite stops what startSuite started.
func stopSuite() error {
	var errs []error
	if gitSSH != nil {
		errs = append(errs, gitSSH.Stop())
	}
	if gitHTTP != nil {
		errs = append(errs, gitHTTP.Stop())
	}
	if seaweed != nil {
		errs = append(errs, seaweed.Stop())
	}
	if env != nil {
		errs = append(errs, env.Stop())
	}
	if imds != nil {
		errs = append(errs, imds.Stop())
	}
	return errors.Join(errs...)
}

// checkNoSecretLeaked searches everything the webhook said, to the API server's users
// (every kubectl output of every test) and on its own (its logs and its metrics), for the
// secret access keys the tests used. It runs after every test so that it covers them
// all.
func checkNoSecretLeaked(ctx context.Context) error {
	metrics, err := env.Webhook.Metrics(ctx)
	if err != nil {
		return err
	}
	places := map[string]string{
		"kubectl's output and the webhook's answers": transcript.String(),
		"the webhook's logs":                         retiredWebhookOutput.String() + env.Webhook.Output.String(),
		"the webhook's metrics":                      metrics,
	}
	if places["the webhook's logs"] == "" {
		return fmt.Errorf("searching for leaked secrets: nothing was recorded to search")
	}
	var leaks []string
	secrets := []string{writerSecretKey, readerSecretKey, otherSecretKey, wrongSecretKey, roleSecretKey,
		localenv.GitWriter.Password, localenv.GitReader.Password, gitWrongPassword}
	if gitSSH != nil {
		// A line of each private key's body stands for the key.
		for _, key := range [][]byte{gitSSH.WriterKey, gitSSH.ReaderKey} {
			secrets = append(secrets, strings.Split(string(key), "\n")[1])
		}
	}
	secrets = append(secrets, strings.Fields(testSecrets.String())...)
	for _, secret := range secrets {
		for _, place := range slices.Sorted(maps.Keys(places)) {
			if strings.Contains(places[place], secret) {
				leaks = append(leaks, fmt.Sprintf("%s holds the secret %q", place, secret))
			}
		}
	}
	if len(leaks) > 0 {
		return fmt.Errorf("secrets leaked:\n%s", strings.Join(leaks, "\n"))
	}
	fmt.Fprintf(os.Stderr, "no secret found in %d bytes of kubectl output and webhook answers, %d bytes of webhook logs and %d bytes of metrics\n",
		len(places["kubectl's output and the webhook's answers"]), len(places["the webhook's logs"]), len(metrics))
	return nil
}

// setUp builds the client and the fixtures every scenario may use.
func setUp(ctx context.Context) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	var err error
	if k8sClient, err = client.New(env.Kube.Config, client.Options{Scheme: scheme}); err != nil {
		return err
	}

	closed, err := closedEndpoint()
	if err != nil {
		return err
	}
	fixtures = fixtureSet{
		Endpoint:                   env.MinIO.Endpoint,
		InsecureEndpoint:           env.MinIO.InsecureEndpoint,
		ClosedEndpoint:             closed,
		Bucket:                     "kratix",
		MissingBucket:              "no-such-bucket",
		IAMBucket:                  "kratix-example-test",
		Secret:                     "minio-credentials",
		ReadOnlySecret:             "minio-readonly-credentials",
		OtherBucketSecret:          "minio-other-bucket-credentials",
		WrongSecretKeySecret:       "minio-wrong-secret-key",
		UnknownAccessKeySecret:     "minio-unknown-access-key",
		NoAccessKeyIDSecret:        "minio-no-access-key-id",
		NoSecretAccessKeySecret:    "minio-no-secret-access-key",
		EmptySecretAccessKeySecret: "minio-empty-secret-access-key",
	}
	for _, bucket := range []string{fixtures.Bucket, fixtures.IAMBucket} {
		if err := env.MinIO.MakeBucket(ctx, bucket); err != nil {
			return err
		}
	}
	if err := env.MinIO.CreateUser(ctx, roleAccessKey, roleSecretKey, "readwrite"); err != nil {
		return err
	}
	imds.SetCredentials(env.MinIO.AssumeRoleCredentials(roleAccessKey, roleSecretKey, time.Hour))
	if err := env.MinIO.CreateUser(ctx, writerAccessKey, writerSecretKey, "readwrite"); err != nil {
		return err
	}
	readOnly := localenv.BucketPolicy(fixtures.Bucket, localenv.ReadOnlyActions...)
	if err := env.MinIO.CreateUserWithPolicy(ctx, readerAccessKey, readerSecretKey, readOnly); err != nil {
		return err
	}
	otherBucket := localenv.BucketPolicy(fixtures.IAMBucket, "s3:*")
	if err := env.MinIO.CreateUserWithPolicy(ctx, otherAccessKey, otherSecretKey, otherBucket); err != nil {
		return err
	}
	secrets := map[string]map[string]string{
		fixtures.Secret:                     credentials(writerAccessKey, writerSecretKey),
		fixtures.ReadOnlySecret:             credentials(readerAccessKey, readerSecretKey),
		fixtures.OtherBucketSecret:          credentials(otherAccessKey, otherSecretKey),
		fixtures.WrongSecretKeySecret:       credentials(writerAccessKey, wrongSecretKey),
		fixtures.UnknownAccessKeySecret:     credentials(unknownAccessKey, writerSecretKey),
		fixtures.NoAccessKeyIDSecret:        {v1alpha1.SecretKeySecretAccessKey: writerSecretKey},
		fixtures.NoSecretAccessKeySecret:    {v1alpha1.SecretKeyAccessKeyID: writerAccessKey},
		fixtures.EmptySecretAccessKeySecret: credentials(writerAccessKey, ""),
	}
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		if err := createSecret(ctx, name, secrets[name]); err != nil {
			return err
		}
	}
	return nil
}

// credentials is the data of a Secret with the two keys Kratix reads.
func credentials(accessKey, secretKey string) map[string]string {
	return map[string]string{
		v1alpha1.SecretKeyAccessKeyID:     accessKey,
		v1alpha1.SecretKeySecretAccessKey: secretKey,
	}
}

// closedEndpoint returns a local host:port that refuses connections: a port the kernel
// handed out and that was closed again.
func closedEndpoint() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// createSecret creates a Secret in default.
func createSecret(ctx context.Context, name string, data map[string]string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		StringData: data,
	}
	if err := k8sClient.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating Secret %s: %w", name, err)
	}
	return nil
}
