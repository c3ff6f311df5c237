package integration

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// faultCase is a store whose probe meets one fault of the S3 server, and what the user
// sees on each backend.
type faultCase struct {
	// yaml is the store, a template over the backend's fixtures.
	yaml string
	// wantExit and want are as a scenario's wantExit and wantStderr, on every backend
	// unless differs names it.
	wantExit int
	want     []string
	// differs holds what a backend answers instead of want, keyed by its name, where the
	// backends differ; the user must still get the right field and fix.
	differs map[string][]string
}

// TestProbeFaultMatrix runs every reason an S3 server's answers can produce against
// MinIO and SeaweedFS (Kratix's quickstart backend): the verdict, the field and the
// message. Faults that do not depend on the server (a closed port, a name that does not
// resolve, the endpoint guard) are in TestApply, TestFaults and TestEndpointGuard.
func TestProbeFaultMatrix(t *testing.T) {
	for _, b := range []struct {
		name string
		at   *fixtureSet
	}{{"MinIO", &fixtures}, {"SeaweedFS", &seaweedFixtures}} {
		t.Run(b.name, func(t *testing.T) {
			slow := delayingProxy(t, b.at.Endpoint, 6*time.Second)
			untrusted := untrustedTLS(t, b.at.InsecureEndpoint)
			cases := faultCases(slow, untrusted)
			scenarios := map[string]scenario{}
			for _, name := range slices.Sorted(maps.Keys(cases)) {
				c := cases[name]
				want := c.want
				if d, ok := c.differs[b.name]; ok {
					want = d
				}
				scenarios[name] = scenario{yaml: c.yaml, at: b.at, wantExit: c.wantExit, wantStderr: want}
			}
			runScenarios(t, scenarios)
		})
	}
}

// faultCases are the matrix's stores; slow answers after the probe's budget and
// untrusted serves TLS with a certificate the webhook does not trust, both in front of
// the backend.
func faultCases(slow, untrusted string) map[string]faultCase {
	return map[string]faultCase{
		"a store the writer may use is admitted": {
			yaml: storeWith(""),
		},
		"a bucket that does not exist is denied on bucketName": {
			yaml:     store("  bucketName: {{.MissingBucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n"),
			wantExit: 1,
			want:     []string{`spec.bucketName: Invalid value: "no-such-bucket": bucket "no-such-bucket" does not exist at "{{.Endpoint}}"; create it or correct bucketName (reason: BucketNotFound)`},
		},
		"a bucket name only legacy buckets take is denied on bucketName": {
			yaml:     store("  bucketName: Kratix\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n"),
			wantExit: 1,
			want: []string{`Warning: spec.bucketName "Kratix" has upper case`,
				`spec.bucketName: Invalid value: "Kratix": "{{.Endpoint}}" refuses the bucket name "Kratix"; correct bucketName to the name of an existing bucket: lower case letters, digits, "." and "-" (reason: InvalidBucketName)`},
		},
		"an access key the server does not know is denied on secretRef": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.UnknownAccessKeySecret}}\n"),
			wantExit: 1,
			want:     []string{`spec.secretRef: Invalid value: "default/minio-unknown-access-key": the access key ID is not known to the endpoint; check accessKeyID in the Secret (reason: InvalidAccessKeyId)`},
		},
		"a wrong secret key is denied on secretRef": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.WrongSecretKeySecret}}\n"),
			wantExit: 1,
			want:     []string{`spec.secretRef: Invalid value: "default/minio-wrong-secret-key": the secret access key is wrong; check secretAccessKey in the Secret (reason: SignatureDoesNotMatch)`},
		},
		"a user who may only read the bucket is denied on secretRef": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.ReadOnlySecret}}\n"),
			wantExit: 1,
			want: []string{`spec.secretRef: Invalid value: "default/minio-readonly-credentials": the credentials may not write to bucket "kratix" ` +
				`(creating ".kratix-write-permission-check" was denied); allow s3:PutObject there (reason: AccessDenied)`},
		},
		"a user who may only use another bucket is denied on secretRef": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.OtherBucketSecret}}\n"),
			wantExit: 1,
			want:     []string{`spec.secretRef: Invalid value: "default/minio-other-bucket-credentials": the credentials may not read bucket "kratix"; allow s3:ListBucket on it (reason: AccessDenied)`},
		},
		"a TLS store against the plain-HTTP endpoint is denied on insecure": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: {{.InsecureEndpoint}}\n  secretRef:\n    name: {{.Secret}}\n"),
			wantExit: 1,
			want:     []string{`spec.insecure: Invalid value: false: "{{.InsecureEndpoint}}" speaks plain HTTP, not HTTPS; set insecure: true to use plain HTTP, or point endpoint at the HTTPS port (reason: TLSMismatch)`},
		},
		"a plain-HTTP store against the TLS endpoint is denied on insecure": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  insecure: true\n  secretRef:\n    name: {{.Secret}}\n"),
			wantExit: 1,
			want: []string{`spec.insecure: Invalid value: true: "{{.Endpoint}}" expects HTTPS, but insecure: true makes the probe use plain HTTP; set insecure: false (reason: TLSMismatch)`,
				"Warning: spec.insecure is true"},
		},
		"a server that answers after the budget is denied on endpoint": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: " + slow + "\n  secretRef:\n    name: {{.Secret}}\n"),
			wantExit: 1,
			want:     []string{`spec.endpoint: Invalid value: "` + slow + `": timed out after ` + probeTimeout + `; check that the webhook can reach endpoint`, "(reason: Timeout)"},
		},
		"a server whose certificate is not trusted is denied on endpoint": {
			yaml:     store("  bucketName: {{.Bucket}}\n  endpoint: " + untrusted + "\n  secretRef:\n    name: {{.Secret}}\n"),
			wantExit: 1,
			want:     []string{`spec.endpoint: Invalid value: "` + untrusted + `": the certificate of "` + untrusted + `" is not trusted`, "(reason: TLSCertificateUntrusted)"},
		},
	}
}
