package integration

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// parityCase is a store that Kratix's own BucketStateStore controller was given, with
// the verdicts it reached at MinIO and at SeaweedFS. The webhook must admit exactly the
// stores Kratix made Ready (with warnings, where it warns) and deny the others: it fails
// closed, so a denial of a store Kratix can use blocks its user for nothing.
type parityCase struct {
	// yaml is the store, a template as in scenario.
	yaml string
	// ready is Kratix's verdict at MinIO: the store's Ready condition was True.
	ready bool
	// source says where Kratix's verdict at MinIO comes from.
	source string
	// want are substrings of kubectl's stderr: the warnings of an admitted store, the
	// cause of a denial. An admitted store without any must get no warning.
	want []string
	// withoutIAMIdentity runs the case against a webhook that, like Kratix in the run,
	// can obtain no IAM credentials.
	withoutIAMIdentity bool
	// kratixSeaweedFS is the reason of the Ready condition Kratix's controller set on
	// the store at SeaweedFS (kratixSeaweedFSRun); kratixReady means Ready.
	kratixSeaweedFS string
}

// kratixRun is where most verdicts come from: Kratix's controller at commit ae170e2
// (github.com/syntasso/kratix), built from source and run against a real kube-apiserver
// and MinIO with no admission webhook registered, each store applied and its Ready
// condition read.
const kratixRun = "run of Kratix ae170e2's controller"

// kratixSeaweedFSRun is where every kratixSeaweedFS comes from: the same controller,
// built the same way, run against the suite's SeaweedFS (weed mini, with the same
// buckets and identities) and a real kube-apiserver, with no admission webhook
// registered, each store of parityCases applied and its Ready condition read.
const kratixSeaweedFSRun = "run of Kratix ae170e2's controller against SeaweedFS 7506e5f, 2026-12-06"

// kratixReady is the reason of Kratix's Ready condition when it is True.
const kratixReady = "StateStoreReady"

// TestKratixParity holds the stores of those runs with Kratix's verdicts beside each, and
// applies each through the real API server and webhook, once at MinIO against Kratix's
// verdict there and once at SeaweedFS against Kratix's verdict there, and the
// GitStateStores of gitParityCases once, at the suite's Git servers. Add a case
// whenever a rule is added or changed, saying where Kratix's verdict comes from.
func TestKratixParity(t *testing.T) {
	hole := blackHole(t)
	withIdentity, withoutIdentity := map[string]scenario{}, map[string]scenario{}
	for _, b := range []struct {
		name string
		at   *fixtureSet
	}{{"MinIO", &fixtures}, {"SeaweedFS", &seaweedFixtures}} {
		for name, c := range parityCases(t, *b.at, hole) {
			// Kratix's verdicts on the two backends agree for every store, and so do the
			// webhook's answers: want holds at both.
			ready := c.ready
			if b.name == "SeaweedFS" {
				if c.kratixSeaweedFS == "" {
					t.Errorf("%s: no verdict of Kratix on SeaweedFS (%s)", name, kratixSeaweedFSRun)
				}
				ready = c.kratixSeaweedFS == kratixReady
			}
			s := scenario{yaml: c.yaml, at: b.at, wantStderr: c.want}
			verdict := "ready"
			if !ready {
				s.wantExit = 1
				verdict = "not ready"
			}
			name = b.name + ", kratix " + verdict + ": " + name
			if c.withoutIAMIdentity {
				withoutIdentity[name] = s
			} else {
				withIdentity[name] = s
			}
		}
	}
	maps.Copy(withIdentity, gitParityScenarios(t))
	runScenarios(t, withIdentity)

	// The webhook's IAM credentials are cached for their lifetime, so the cases without
	// an identity get a webhook of their own, pointed at a metadata service with no role.
	noRole, err := localenv.StartIMDS(localenv.IMDSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = noRole.Stop() })
	args := slices.Clone(webhookArgs)
	for i, arg := range args {
		if strings.HasPrefix(arg, "--iam-endpoint=") {
			args[i] = "--iam-endpoint=" + noRole.URL
		}
	}
	restartWebhook(t, args)
	defer restartWebhook(t, webhookArgs)
	runScenarios(t, withoutIdentity)
}

// storeWith is a store with the valid bucket, endpoint and Secret, and more fields.
func storeWith(fields string) string {
	return store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n" + fields)
}

// parityCases are the parity stores, templates over f; hole accepts connections and
// never answers.
func parityCases(t *testing.T, f fixtureSet, hole string) map[string]parityCase {
	t.Helper()
	upperCase := strings.Replace(f.Endpoint, "127.0.0.1", "LOCALHOST", 1)
	trailingDot := strings.Replace(f.Endpoint, "127.0.0.1", "localhost.", 1)
	if upperCase == f.Endpoint {
		t.Fatalf("the endpoint %q is not on 127.0.0.1; the host-name cases need it there", f.Endpoint)
	}
	return map[string]parityCase{
		"a valid store": {
			yaml:  store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n    namespace: default\n"),
			ready: true, source: kratixRun,
			kratixSeaweedFS: kratixReady,
		},
		"a path with a trailing slash": {
			yaml:  storeWith("  path: some/prefix/\n"),
			ready: true, source: kratixRun,
			kratixSeaweedFS: kratixReady,
		},
		"a path with a double slash": {
			yaml:  storeWith("  path: a//b/\n"),
			ready: true, source: kratixRun,
			kratixSeaweedFS: kratixReady,
		},
		"a secretRef without a namespace, the Secret in default": {
			// Kratix's controller falls back to default; the mutating webhook fills it in.
			yaml:  store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n"),
			ready: true, source: kratixRun,
			kratixSeaweedFS: kratixReady,
		},
		"a path with a leading slash": {
			yaml:  storeWith("  path: /leading-slash\n"),
			ready: true, source: kratixRun + "; lib/writers/s3.go keeps the path as filepath.Join gives it",
			kratixSeaweedFS: kratixReady,
			want:            []string{`Warning: spec.path starts with "/": Kratix then writes keys that start with "/", and S3 servers differ on whether the key keeps it; write "leading-slash"`},
		},
		"a path of only a slash": {
			yaml:  storeWith("  path: /\n"),
			ready: true, source: kratixRun,
			kratixSeaweedFS: kratixReady,
			want:            []string{`Warning: spec.path starts with "/": Kratix then writes keys that start with "/", and S3 servers differ on whether the key keeps it; write ""`},
		},
		"a path whose dot-dot segment stays inside it": {
			yaml:  storeWith("  path: a/../b\n"),
			ready: true, source: kratixRun + "; lib/writers/s3.go cleans the path with filepath.Join, so Kratix writes under b",
			kratixSeaweedFS: kratixReady,
			want:            []string{`Warning: spec.path has a ".." segment: Kratix cleans the path and writes under what is left; write "b"`},
		},
		"an endpoint host in upper case": {
			yaml:  store("  bucketName: {{.Bucket}}\n  endpoint: " + upperCase + "\n  secretRef:\n    name: {{.Secret}}\n"),
			ready: true, source: kratixRun,
			kratixSeaweedFS: kratixReady,
			want:            []string{`Warning: spec.endpoint has upper case in its host: Kratix uses it, as host names are case-insensitive, but certificates and allowlists spell them in lower case; write "` + strings.ToLower(upperCase) + `"`},
		},
		"a Secret with a wrong secret key": {
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.WrongSecretKeySecret}}\n"),
			source:          kratixRun,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{"(reason: SignatureDoesNotMatch)"},
		},
		"a Secret with an access key ID MinIO does not know": {
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.UnknownAccessKeySecret}}\n"),
			source:          kratixRun,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{"(reason: InvalidAccessKeyId)"},
		},
		"a bucket that does not exist": {
			yaml:            store("  bucketName: {{.MissingBucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n"),
			source:          kratixRun,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{"(reason: BucketNotFound)"},
		},
		"a user who may only read the bucket": {
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.ReadOnlySecret}}\n"),
			source:          kratixRun + "; lib/writers/s3.go ValidatePermissions starts a multipart upload",
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{"(reason: AccessDenied)"},
		},
		"insecure false against a plain-HTTP endpoint": {
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: {{.InsecureEndpoint}}\n  insecure: false\n  secretRef:\n    name: {{.Secret}}\n"),
			source:          kratixRun,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{"(reason: TLSMismatch)"},
		},
		"a Secret without secretAccessKey": {
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.NoSecretAccessKeySecret}}\n"),
			source:          kratixRun + `; lib/writers/s3.go: "secret is missing key: secretAccessKey"`,
			kratixSeaweedFS: "ErrorInitialisingWriter",
			want:            []string{`spec.secretRef: Required value: Secret default/minio-no-secret-access-key has no key "secretAccessKey"`},
		},
		"an endpoint with http://": {
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: http://{{.InsecureEndpoint}}\n  insecure: true\n  secretRef:\n    name: {{.Secret}}\n"),
			source:          kratixRun,
			kratixSeaweedFS: "ErrorInitialisingWriter",
			want:            []string{`must be host[:port] without a scheme; drop "http://" and set insecure: true for plain HTTP`},
		},
		"a bucket name in upper case": {
			// minio-go's client sends it (CheckValidBucketName); MinIO refuses it, so the
			// webhook warns and its probe denies, with MinIO's code.
			yaml:            store("  bucketName: Kratix\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n"),
			source:          kratixRun + `; MinIO: "The specified bucket is not valid"`,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want: []string{
				`Warning: spec.bucketName "Kratix" has upper case, "_" or ":": only legacy Amazon S3 buckets (us-east-1, before March 2018) take such names; MinIO and newer buckets refuse them`,
				`spec.bucketName: Invalid value: "Kratix": "{{.Endpoint}}" refuses the bucket name "Kratix"`, "(reason: InvalidBucketName)",
			},
		},
		"a path that climbs above the bucket's root": {
			// SeaweedFS answers Kratix's write check "Invalid Request".
			yaml:            storeWith("  path: ../escape\n"),
			source:          kratixRun + `; MinIO: "Resource name contains bad components such as '..' or '.'"`,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{`spec.path: Invalid value: "../escape": must stay inside the bucket`},
		},
		"an endpoint host with a trailing dot": {
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: " + trailingDot + "\n  secretRef:\n    name: {{.Secret}}\n"),
			source:          kratixRun,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{`spec.endpoint: Invalid value: "` + trailingDot + `": host must be a DNS name or an IP address`},
		},
		"an endpoint that accepts connections and never answers": {
			// Kratix's verdict came after 60 s in the MinIO run (minio-go's response-header
			// timeout); in the SeaweedFS run (the hole is the same) after 10 s, "net/http:
			// TLS handshake timeout" (minio-go v7.2.1's TLSHandshakeTimeout). The webhook
			// denies within its budget. TestFaults covers the slow server too.
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: " + hole + "\n  secretRef:\n    name: {{.Secret}}\n"),
			source:          kratixRun,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{"(reason: Timeout)"},
		},
		// Cases for rules changed since the run, with Kratix's verdict from its source.
		"a path that leaves no room for Kratix's write check key": {
			yaml:            storeWith("  path: " + strings.Repeat("p", 994) + "\n"),
			source:          `minio-go v7.2.1 (Kratix's go.mod), pkg/s3utils CheckValidObjectName in NewMultipartUpload: "Object name cannot be longer than 1024 characters"`,
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{`must leave room for Kratix's write check`},
		},
		"an endpoint host with an underscore that does not resolve": {
			// No longer denied by the rules, since Go's resolver looks such names up;
			// here none resolves, for Kratix as for the probe.
			yaml:            store("  bucketName: {{.Bucket}}\n  endpoint: no_such_minio.invalid:9000\n  secretRef:\n    name: {{.Secret}}\n"),
			source:          "Go's resolver, which minio-go's transport uses: no such host",
			kratixSeaweedFS: "ErrorValidatingPermissions",
			want:            []string{`Warning: spec.endpoint has "_" in its host`, "(reason: NameNotResolved)"},
		},
		"authMethod IAM where no IAM credentials can be obtained": {
			yaml:               store("  bucketName: {{.IAMBucket}}\n  endpoint: {{.Endpoint}}\n  authMethod: IAM\n"),
			source:             kratixRun + "; lib/writers/s3.go uses credentials.NewIAM",
			kratixSeaweedFS:    "ErrorValidatingPermissions",
			want:               []string{`spec.authMethod: Invalid value: "IAM"`, "(reason: CredentialsUnavailable)"},
			withoutIAMIdentity: true,
		},
	}
}
