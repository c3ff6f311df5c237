package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// review is one kind of admission request the load tests send, with its right verdict.
type review struct {
	name string
	// spec is the store's spec; i numbers the request, for specs that vary.
	spec func(i int) v1alpha1.BucketStateStoreSpec
	// want is the right verdict.
	want testkit.Verdict
}

func writerSpec(path string) v1alpha1.BucketStateStoreSpec {
	return v1alpha1.BucketStateStoreSpec{
		BucketName: fixtures.Bucket,
		Endpoint:   fixtures.Endpoint,
		AuthMethod: v1alpha1.AuthMethodAccessKey,
		StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
			Path:      path,
			SecretRef: &corev1.SecretReference{Name: fixtures.Secret, Namespace: "default"},
		},
	}
}

// loadMix is mostly the same valid store (answered from the probe cache), with valid
// stores at new paths (each a real probe of MinIO), static mistakes (no probe) and a
// missing bucket (a probe every time: failures are not cached).
var loadMix = []review{
	{name: "cached", spec: func(int) v1alpha1.BucketStateStoreSpec { return writerSpec("") }, want: testkit.Admitted},
	{name: "cached", spec: func(int) v1alpha1.BucketStateStoreSpec { return writerSpec("") }, want: testkit.Admitted},
	{name: "cached", spec: func(int) v1alpha1.BucketStateStoreSpec { return writerSpec("") }, want: testkit.Admitted},
	{name: "cached", spec: func(int) v1alpha1.BucketStateStoreSpec { return writerSpec("") }, want: testkit.Admitted},
	{name: "cached", spec: func(int) v1alpha1.BucketStateStoreSpec { return writerSpec("") }, want: testkit.Admitted},
	{name: "cached", spec: func(int) v1alpha1.BucketStateStoreSpec { return writerSpec("") }, want: testkit.Admitted},
	{name: "new path", spec: func(i int) v1alpha1.BucketStateStoreSpec { return writerSpec("load/" + strconv.Itoa(i)) }, want: testkit.Admitted},
	{name: "bucket name minio-go refuses", spec: func(int) v1alpha1.BucketStateStoreSpec {
		s := writerSpec("")
		// Successive periods: minio-go refuses the name itself, so Kratix cannot use it.
		// (A legacy name such as "Bad_Bucket" only warns, and is then probed.)
		s.BucketName = "bad..bucket"
		return s
	}, want: testkit.Denied("spec.bucketName: Invalid value")},
	{name: "endpoint with a scheme", spec: func(int) v1alpha1.BucketStateStoreSpec {
		s := writerSpec("")
		s.Endpoint = "https://" + s.Endpoint
		return s
	}, want: testkit.Denied("without a scheme")},
	{name: "missing bucket", spec: func(int) v1alpha1.BucketStateStoreSpec {
		s := writerSpec("")
		s.BucketName = fixtures.MissingBucket
		return s
	}, want: testkit.Denied("(reason: BucketNotFound)")},
}

// TestLoad sends many admission requests at once straight to the webhook's HTTPS port,
// as the API server does, and checks every answer.
func TestLoad(t *testing.T) {
	const rounds, perRound, concurrency = 2, 10000, 64
	logWebhookOnFailure(t)
	client := newReviewClient(t)
	var rss [rounds]int64

	var rotated *x509.Certificate
	for r := range rounds {
		var rotation sync.WaitGroup
		if r == rounds-1 {
			// Rotate the serving certificate while the last round runs.
			rotation.Go(func() {
				time.Sleep(500 * time.Millisecond)
				if err := env.CA.WriteServingCert(env.Webhook.CertDir(), "tls.crt", "tls.key"); err != nil {
					t.Errorf("rotating the serving certificate: %v", err)
					return
				}
				rotated = waitForNewCertificate(t)
			})
		}
		failures := sendReviews(t, client, r*perRound, perRound, concurrency)
		rotation.Wait()
		for _, f := range failures {
			t.Error(f)
		}
		rss[r] = residentKiB(t, env.Webhook.PID())
		t.Logf("round %d: %d admissions at concurrency %d, %d wrong or failed; webhook RSS %d KiB", r+1, perRound, concurrency, len(failures), rss[r])
	}
	if rotated != nil {
		t.Logf("the webhook serves the rotated certificate (serial %s)", rotated.SerialNumber)
	}
	// The first round fills the pools and the caches; a second as big must not need
	// much more memory.
	if grown := rss[1] - rss[0]; grown > 32<<10 {
		t.Errorf("the webhook's RSS grew by %d KiB in the second round (%d KiB, then %d KiB), want flat", grown, rss[0], rss[1])
	}
}

// TestGracefulShutdown shows that SIGTERM lets the admissions in flight finish: each of
// them waits for a probe of its own endpoint that never answers, and the signal is sent
// once every endpoint has been reached, so they are all still in the webhook.
func TestGracefulShutdown(t *testing.T) {
	const inFlight = 16
	logWebhookOnFailure(t)
	client := newReviewClient(t)
	answers := make(chan error, inFlight)
	holes := make([]*localenv.BlackHole, inFlight)
	for i := range inFlight {
		holes[i] = startBlackHole(t)
		go func() {
			spec := writerSpec("")
			spec.Endpoint = holes[i].Endpoint
			spec.Path = "shutdown/" + strconv.Itoa(i) // distinct probes, none merged
			answers <- checkReview(client, i, review{spec: func(int) v1alpha1.BucketStateStoreSpec { return spec }, want: testkit.Denied("(reason: Timeout)")})
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, hole := range holes {
		if err := hole.WaitAccepted(ctx, 1); err != nil {
			t.Fatalf("admission %d never reached its endpoint: %v", i, err)
		}
	}

	retiredWebhookOutput.record(env.Webhook.Output.String())
	code, err := env.Webhook.Terminate(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for range inFlight {
		if err := <-answers; err != nil {
			t.Errorf("an admission in flight at SIGTERM: %v", err)
		}
	}
	if code != 0 {
		t.Errorf("the webhook exited with code %d after SIGTERM, want 0", code)
	}
	if err := env.RestartWebhook(context.Background(), webhookArgs...); err != nil {
		t.Fatalf("restarting the webhook for the tests after this one: %v", err)
	}
}

// newReviewClient returns an HTTPS client that trusts the webhook, with a connection
// per worker.
func newReviewClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: webhookTLS(t), MaxIdleConnsPerHost: 128}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// sendReviews sends n admission requests, numbered from first, with concurrency
// workers, cycling through loadMix, and returns what went wrong.
func sendReviews(t *testing.T, client *http.Client, first, n, concurrency int) []error {
	t.Helper()
	var next atomic.Int64
	next.Store(int64(first))
	var mu sync.Mutex
	var failures []error
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= first+n {
					return
				}
				if err := checkReview(client, i, loadMix[i%len(loadMix)]); err != nil {
					mu.Lock()
					if len(failures) < 20 {
						failures = append(failures, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failures
}

// checkReview sends request i of kind r and checks the answer.
func checkReview(client *http.Client, i int, r review) error {
	uid := types.UID(fmt.Sprintf("load-%d", i))
	body, err := testkit.Review{
		UID:       uid,
		Operation: admissionv1.Create,
		User:      authenticationv1.UserInfo{Username: "load-tester", Groups: []string{"system:masters", "system:authenticated"}},
		Object: testkit.StoreJSON(&v1alpha1.BucketStateStore{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BucketStateStore"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("load-%d", i)},
			Spec:       r.spec(i),
		}),
	}.JSON()
	if err != nil {
		return err
	}
	resp, err := client.Post(env.Webhook.URL(server.ValidatePath), "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request %d (%s): %w", i, r.name, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("request %d (%s): reading the answer: %w", i, r.name, err)
	}
	transcript.record(string(answer)) // searched for leaked secrets at the end
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("request %d (%s): HTTP %d: %s", i, r.name, resp.StatusCode, answer)
	}
	if err := testkit.CheckReview(answer, uid, r.want); err != nil {
		return fmt.Errorf("request %d (%s): %w", i, r.name, err)
	}
	return nil
}

// waitForNewCertificate waits until the webhook serves the certificate last written to
// its directory and returns it, or fails the test after 30 seconds.
func waitForNewCertificate(t *testing.T) *x509.Certificate {
	written, err := tls.LoadX509KeyPair(env.Webhook.CertDir()+"/tls.crt", env.Webhook.CertDir()+"/tls.key")
	if err != nil {
		t.Errorf("reading the rotated certificate: %v", err)
		return nil
	}
	var served *x509.Certificate
	if err := testkit.Poll(context.Background(), 30*time.Second, func(context.Context) (bool, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.TrimPrefix(env.Webhook.URL(""), "https://"), webhookTLS(t))
		if err != nil {
			return false, nil
		}
		served = conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		return bytes.Equal(served.Raw, written.Certificate[0]), nil
	}); err != nil {
		t.Errorf("the webhook did not serve the rotated certificate within 30s")
		return nil
	}
	return served
}

// residentKiB returns the resident set size of process pid.
func residentKiB(t *testing.T, pid int) int64 {
	t.Helper()
	kib, err := testkit.ProcStatusKiB(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	return kib
}
