package integration

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kratix-community/statestore-webhook/internal/check"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// checkCase is a store for TestCheckCommandMatchesWebhook, a template like a scenario's.
type checkCase struct {
	yaml string
	// schemaFirst marks a store the CRD's schema refuses before the webhook is called:
	// the API server's cause is then a prefix of the command's (the schema's "Required
	// value" before the webhook's explanation), not the same text.
	schemaFirst bool
}

// TestCheckCommandMatchesWebhook holds statestore-check to the webhook: for a store
// breaking each static rule, each Secret check and the main probe failures, and for
// admitted stores with and without warnings, the command (with --probe and the
// cluster's Secrets as its input) gives the verdict, the causes (field and message, in
// order) and the warnings that `kubectl apply --dry-run=server` gets from the webhook
// through the API server.
func TestCheckCommandMatchesWebhook(t *testing.T) {
	ipv6 := "2001:db8::1"
	cases := map[string]checkCase{
		"valid accessKey store":                 {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n")},
		"valid plain-HTTP store with a warning": {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.InsecureEndpoint}}\n  insecure: true\n  secretRef:\n    name: {{.Secret}}\n")},
		"IAM store with a secretRef":            {yaml: store("  bucketName: {{.IAMBucket}}\n  endpoint: {{.Endpoint}}\n  authMethod: IAM\n  secretRef:\n    name: {{.Secret}}\n")},

		"bucketName empty":             {yaml: accessKeyStore("bucketName: \"\"", "")},
		"bucketName absent":            {yaml: store("  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n"), schemaFirst: true},
		"bucketName too long":          {yaml: accessKeyStore("bucketName: "+strings.Repeat("b", 64), "")},
		"bucketName not an S3 name":    {yaml: accessKeyStore("bucketName: Kratix", "")},
		"endpoint empty":               {yaml: accessKeyStore("", "endpoint: \"\"")},
		"endpoint absent":              {yaml: store("  bucketName: {{.Bucket}}\n  secretRef:\n    name: {{.Secret}}\n"), schemaFirst: true},
		"endpoint too long":            {yaml: accessKeyStore("", "endpoint: "+strings.Repeat("e", 262))},
		"endpoint with https scheme":   {yaml: accessKeyStore("", "endpoint: https://{{.Endpoint}}")},
		"endpoint with http scheme":    {yaml: accessKeyStore("", "endpoint: http://{{.InsecureEndpoint}}")},
		"endpoint with a path":         {yaml: accessKeyStore("", "endpoint: {{.Endpoint}}/kratix")},
		"endpoint with a query":        {yaml: accessKeyStore("", "endpoint: \"{{.Endpoint}}?x=1\"")},
		"endpoint with a fragment":     {yaml: accessKeyStore("", "endpoint: \"{{.Endpoint}}#x\"")},
		"endpoint with user info":      {yaml: accessKeyStore("", "endpoint: user@{{.Endpoint}}")},
		"endpoint IPv6 bare":           {yaml: accessKeyStore("", "endpoint: \""+ipv6+"\"")},
		"endpoint that does not split": {yaml: accessKeyStore("", "endpoint: minio:9000:1")},
		"endpoint host not DNS":        {yaml: accessKeyStore("", "endpoint: Minio_Host:9000")},
		"endpoint port out of range":   {yaml: accessKeyStore("", "endpoint: minio:65536")},
		"path with a leading slash":    {yaml: accessKeyStore("", "path: /destinations")},
		"path with a dotdot segment":   {yaml: accessKeyStore("", "path: a/../b")},
		"path too long":                {yaml: accessKeyStore("", "path: "+strings.Repeat("p", 1025))},
		"authMethod unsupported":       {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  authMethod: Kerberos\n"), schemaFirst: true},
		"secretRef missing":            {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n")},
		"secretRef name empty":         {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    namespace: default\n")},
		"secretRef name invalid":       {yaml: secretRefStore("name: Bad_Name")},
		"secretRef name too long":      {yaml: secretRefStore("name: " + strings.Repeat("n", 254))},
		"secretRef namespace invalid":  {yaml: secretRefStore("name: {{.Secret}}\n    namespace: Bad_NS")},
		"secretRef namespace too long": {yaml: secretRefStore("name: {{.Secret}}\n    namespace: " + strings.Repeat("n", 64))},
		"every required field at once": {yaml: store("  bucketName: \"\"\n  endpoint: \"\"\n")},

		"Secret not found":               {yaml: secretRefStore("name: no-such-secret")},
		"Secret without accessKeyID":     {yaml: secretRefStore("name: {{.NoAccessKeyIDSecret}}")},
		"Secret without secretAccessKey": {yaml: secretRefStore("name: {{.NoSecretAccessKeySecret}}")},
		"Secret with an empty key":       {yaml: secretRefStore("name: {{.EmptySecretAccessKeySecret}}")},

		"probe: bucket not found":    {yaml: store("  bucketName: {{.MissingBucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.Secret}}\n")},
		"probe: wrong secret key":    {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.WrongSecretKeySecret}}\n")},
		"probe: read-only keys":      {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    name: {{.ReadOnlySecret}}\n")},
		"probe: plain HTTP with TLS": {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.InsecureEndpoint}}\n  secretRef:\n    name: {{.Secret}}\n")},
		"probe: connection refused":  {yaml: store("  bucketName: {{.Bucket}}\n  endpoint: {{.ClosedEndpoint}}\n  secretRef:\n    name: {{.Secret}}\n")},
	}
	secrets, err := env.SecretManifests(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			f := fixtures
			f.Name = storeName(t.Name())
			logWebhookOnFailure(t)
			doc := render(t, tc.yaml, f)

			api := kubectl(t, doc, "apply", "--dry-run=server", "-f", "-")
			if api.Exit != 0 && api.Exit != 1 {
				t.Fatalf("kubectl apply --dry-run=server exited %d: %s", api.Exit, api.Stderr)
			}
			got := runCheck(t, secrets+"---\n"+doc, "--probe", "--require-secrets")
			if len(got.Errors) > 0 || len(got.Stores) != 1 {
				t.Fatalf("statestore-check found %d stores and input errors %v, want 1 store", len(got.Stores), got.Errors)
			}
			s := got.Stores[0]

			if s.Valid != (api.Exit == 0) {
				t.Errorf("statestore-check says valid=%v; kubectl exited %d: %s", s.Valid, api.Exit, api.Stderr)
			}
			if diff := cmp.Diff(localenv.KubectlWarnings(api.Stderr), s.Warnings); diff != "" {
				t.Errorf("warnings (-webhook +command):\n%s", diff)
			}
			if api.Exit == 0 {
				return
			}
			apiCauses, ok := localenv.KubectlCauses(api.Stderr)
			if !ok {
				t.Fatalf("kubectl's stderr holds no causes: %s", api.Stderr)
			}
			var ours []string
			for _, c := range s.Causes {
				ours = append(ours, c.String())
			}
			if tc.schemaFirst {
				if len(apiCauses) != 1 || len(ours) != 1 || !strings.HasPrefix(ours[0], apiCauses[0]) {
					t.Errorf("want one cause from the CRD's schema that starts the command's one cause;\nAPI server: %q\ncommand:    %q", apiCauses, ours)
				}
				return
			}
			if diff := cmp.Diff(apiCauses, ours); diff != "" {
				t.Errorf("causes (-webhook +command):\n%s", diff)
			}
		})
	}
}

// accessKeyStore is a valid accessKey store with bucketName or endpoint replaced by the
// lines given (empty keeps the valid one), or with extra, such as a path, added.
func accessKeyStore(bucketName, endpointOrExtra string) string {
	if bucketName == "" {
		bucketName = "bucketName: {{.Bucket}}"
	}
	lines := []string{bucketName}
	if !strings.HasPrefix(endpointOrExtra, "endpoint:") {
		lines = append(lines, "endpoint: {{.Endpoint}}")
	}
	if endpointOrExtra != "" {
		lines = append(lines, endpointOrExtra)
	}
	lines = append(lines, "secretRef:\n    name: {{.Secret}}")
	return store("  " + strings.Join(lines, "\n  ") + "\n")
}

// secretRefStore is an accessKey store with the secretRef lines given.
func secretRefStore(ref string) string {
	return store("  bucketName: {{.Bucket}}\n  endpoint: {{.Endpoint}}\n  secretRef:\n    " + ref + "\n")
}

// runCheck runs statestore-check on input with the suite's --probe-timeout and
// metadata stand-in, and checks that its exit code agrees with its result.
func runCheck(t *testing.T, input string, args ...string) check.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var r check.Result
	run, err := env.RunCheck(ctx, input, &r, append([]string{"--probe-timeout=" + probeTimeout, "--iam-endpoint=" + imds.URL, "--iam-endpoints=127.0.0.1"}, args...)...)
	transcript.record(run.Stdout, run.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.ExitCode(); run.Exit != want {
		t.Errorf("statestore-check exited %d for a result that asks for %d", run.Exit, want)
	}
	return r
}
