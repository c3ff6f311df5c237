package integration

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// store is a BucketStateStore named {{.Name}} with spec, a YAML block indented by two
// spaces.
func store(spec string) string {
	return `
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata:
  name: {{.Name}}
spec:
` + spec
}

// TestApply applies stores with the real kubectl, first with --dry-run=server and then
// for real, and checks what the user sees. Adding a scenario is adding an entry.
func TestApply(t *testing.T) {
	runScenarios(t, map[string]scenario{
		"an accessKey store with a valid Secret and an existing bucket is admitted and defaulted": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
			wantStored: map[string]any{
				"spec.authMethod":          "accessKey",
				"spec.insecure":            false,
				"spec.secretRef.namespace": "default",
			},
		},
		"the seed documentation's accessKey example is admitted with the insecure warning": {
			// As documented, with the in-cluster MinIO's name replaced by the local one.
			yaml: store(`
  endpoint: {{.InsecureEndpoint}}
  insecure: true
  bucketName: kratix
  secretRef:
    name: minio-credentials
    namespace: default
`),
			wantStderr: []string{"Warning: spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way"},
			wantStored: map[string]any{"spec.authMethod": "accessKey", "spec.insecure": true},
		},
		"a store with a path is probed under that path and admitted": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  path: destinations/
  authMethod: accessKey
  secretRef:
    name: {{.Secret}}
    namespace: default
`),
			wantStored: map[string]any{"spec.path": "destinations/"},
		},
		"an accessKey store without secretRef is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
`),
			wantExit:   1,
			wantStderr: []string{"spec.secretRef: Required value: required when authMethod is accessKey: name a Secret with the keys accessKeyID and secretAccessKey"},
		},
		"an accessKey store whose secretRef has no name is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    namespace: default
`),
			wantExit:   1,
			wantStderr: []string{"spec.secretRef.name: Required value: the name of the Secret holding the credentials"},
		},
		"a store whose Secret does not exist is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: no-such-secret
`),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Not found: "default/no-such-secret"`},
		},
		"a store whose Secret has no accessKeyID is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.NoAccessKeyIDSecret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Required value: Secret default/minio-no-access-key-id has no key "accessKeyID"`},
		},
		"a store whose Secret has no secretAccessKey is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.NoSecretAccessKeySecret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Required value: Secret default/minio-no-secret-access-key has no key "secretAccessKey"`},
		},
		"a store whose Secret has an empty secretAccessKey is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.EmptySecretAccessKeySecret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Required value: key "secretAccessKey" of Secret default/minio-empty-secret-access-key is empty`},
		},
		"a store with an invalid bucket name is denied": {
			yaml: store(`
  bucketName: Kratix+Bucket
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.bucketName: Invalid value: "Kratix+Bucket": must be a valid S3 bucket name`},
		},
		"a store whose endpoint has a scheme is denied with the fix": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: https://{{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "https://{{.Endpoint}}": must be host[:port] without a scheme; drop "https://"`},
		},
		"every static problem is reported at once": {
			yaml: store(`
  bucketName: Kratix+Bucket
  endpoint: http://{{.Endpoint}}/kratix
  path: stores/../../etc
  secretRef:
    namespace: default
`),
			wantExit: 1,
			wantStderr: []string{
				`spec.bucketName: Invalid value: "Kratix+Bucket"`,
				`spec.endpoint: Invalid value: "http://{{.Endpoint}}/kratix"`,
				`spec.path: Invalid value: "stores/../../etc": must stay inside the bucket`,
				`spec.secretRef.name: Required value`,
			},
		},
		"a store whose endpoint has nothing listening is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.ClosedEndpoint}}
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "{{.ClosedEndpoint}}": "{{.ClosedEndpoint}}" refused the connection`, "(reason: ConnectionRefused)"},
		},
		"an update that switches a working store to a wrong secret key is denied": {
			given: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.WrongSecretKeySecret}}
`),
			wantExit:   1,
			wantStderr: []string{"(reason: SignatureDoesNotMatch)"},
		},
		"an update that changes nothing is admitted": {
			given: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
		},
	})
}

// TestIAM applies stores that take their credentials from where the webhook runs: here
// a stand-in for the instance metadata service that hands out MinIO STS credentials.
func TestIAM(t *testing.T) {
	before := imds.CredentialRequests()
	runScenarios(t, map[string]scenario{
		"the seed documentation's IAM example is admitted": {
			// As documented, with AWS's endpoint replaced by the local MinIO.
			yaml: store(`
  bucketName: kratix-example-test
  endpoint: {{.Endpoint}}
  insecure: false
  authMethod: IAM
`),
			wantStored: map[string]any{"spec.authMethod": "IAM", "spec.insecure": false},
		},
		"an IAM store with a secretRef is admitted with a warning": {
			yaml: store(`
  bucketName: {{.IAMBucket}}
  endpoint: {{.Endpoint}}
  path: destinations/
  authMethod: IAM
  secretRef:
    name: {{.Secret}}
`),
			wantStderr: []string{"Warning: spec.secretRef is ignored when authMethod is IAM: Kratix takes credentials from where it runs"},
		},
		"an IAM store whose bucket does not exist is denied": {
			yaml: store(`
  bucketName: {{.MissingBucket}}
  endpoint: {{.Endpoint}}
  authMethod: IAM
`),
			wantExit:   1,
			wantStderr: []string{`spec.bucketName: Invalid value: "no-such-bucket"`, "(reason: BucketNotFound)"},
		},
	})
	if imds.CredentialRequests() == before {
		t.Errorf("the webhook never asked the metadata stand-in for credentials")
	}
}

// TestIAMUntrustedEndpoints shows that the webhook's IAM credentials go nowhere but to
// the endpoints the operator listed (here the local MinIO's address, 127.0.0.1), and
// never over plain HTTP: a store elsewhere is admitted unprobed with a warning that says
// why, or denied with --iam-untrusted-endpoints=deny, and its endpoint gets no
// connection at all.
func TestIAMUntrustedEndpoints(t *testing.T) {
	// localhost is the same host as 127.0.0.1, but not a listed name.
	unlisted, unlistedConns := connectionCounter(t)
	unlistedEndpoint := strings.Replace(unlisted, "127.0.0.1", "localhost", 1)
	plain, plainConns := connectionCounter(t)
	unlistedStore := store(`
  bucketName: {{.IAMBucket}}
  endpoint: ` + unlistedEndpoint + `
  authMethod: IAM
`)
	plainStore := store(`
  bucketName: {{.IAMBucket}}
  endpoint: ` + plain + `
  insecure: true
  authMethod: IAM
`)
	listedStore := store(`
  bucketName: {{.IAMBucket}}
  endpoint: {{.Endpoint}}
  authMethod: IAM
`)

	t.Run("admitted unprobed by default", func(t *testing.T) {
		runScenarios(t, map[string]scenario{
			"an IAM store at an endpoint that is not listed is admitted unprobed with a warning": {
				yaml:       unlistedStore,
				wantStderr: []string{"Warning: " + probe.WarningIAMNotProbed},
			},
			"an IAM store over plain HTTP at a listed address is admitted unprobed with a warning": {
				yaml:       plainStore,
				wantStderr: []string{"Warning: " + probe.WarningIAMNotProbedPlainHTTP, "Warning: " + admission.WarningInsecure},
			},
		})
	})
	t.Run("denied with --iam-untrusted-endpoints=deny", func(t *testing.T) {
		withWebhookFlags(t, "--iam-untrusted-endpoints=deny")
		runScenarios(t, map[string]scenario{
			"an IAM store at an endpoint that is not listed is denied": {
				yaml:     unlistedStore,
				wantExit: 1,
				wantStderr: []string{`spec.authMethod: Invalid value: "IAM": the webhook sends its IAM credentials only to Amazon S3 and --iam-endpoints, ` +
					`not to "` + unlistedEndpoint + `"; use authMethod accessKey or ask the operator to add the endpoint (reason: IAMEndpointNotTrusted)`},
			},
			"an IAM store over plain HTTP is denied": {
				yaml:     plainStore,
				wantExit: 1,
				wantStderr: []string{`spec.authMethod: Invalid value: "IAM": the webhook never sends its IAM credentials over plain HTTP, ` +
					`and Kratix would send its session token unencrypted; set insecure: false or use authMethod accessKey (reason: IAMEndpointNotTrusted)`},
			},
			"an IAM store at the listed MinIO is still probed and admitted": {
				yaml: listedStore,
			},
		})
	})
	if n := unlistedConns.Load(); n != 0 {
		t.Errorf("the unlisted endpoint got %d connections, want none", n)
	}
	if n := plainConns.Load(); n != 0 {
		t.Errorf("the plain-HTTP endpoint got %d connections, want none", n)
	}
}

// connectionCounter returns a local endpoint that counts the connections made to it
// and closes them at once: a count of zero means nothing at all was sent there.
func connectionCounter(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	l := listen(t)
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), &n
}
