package check

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

const storeHeader = "apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: s\n"

// secretDoc is a Secret in default with the given stringData lines.
func secretDoc(name string, stringData ...string) string {
	doc := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  namespace: default\n"
	if len(stringData) > 0 {
		doc += "stringData:\n"
		for _, kv := range stringData {
			doc += "  " + kv + "\n"
		}
	}
	return doc
}

const (
	validSpec      = "spec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  secretRef:\n    name: creds\n"
	completeSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\nstringData:\n  accessKeyID: id\n  secretAccessKey: key\n"
)

// gitStoreDoc is a basicAuth GitStateStore over HTTPS naming Secret default/git.
const gitStoreDoc = "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata:\n  name: g\nspec:\n  url: https://git.example.com/state.git\n  secretRef:\n    name: git\n"

var ignoreUnexported = cmpopts.IgnoreUnexported(Store{})

func TestCheck(t *testing.T) {
	tests := map[string]struct {
		input          string
		requireSecrets bool
		want           []*Store
	}{
		"a store whose Secret is in the input with both keys is valid": {
			input: storeHeader + validSpec + "---\n" + completeSecret,
			want:  []*Store{{File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s", Valid: true}},
		},
		"Secret keys in base64 data count as the API server stores them": {
			input: storeHeader + validSpec + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  accessKeyID: aWQ=\n  secretAccessKey: a2V5\n",
			want:  []*Store{{File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s", Valid: true}},
		},
		"a static rule is reported with the webhook's message, on the field's line": {
			input: storeHeader + "spec:\n  endpoint: https://s3.example.com\n  bucketName: kratix\n  secretRef:\n    name: creds\n",
			want: []*Store{{
				File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s",
				Message: `BucketStateStore.platform.kratix.io "s" is invalid: spec.endpoint: Invalid value: "https://s3.example.com": must be host[:port] without a scheme; drop "https://" and leave insecure false`,
				Causes:  []Cause{{Field: "spec.endpoint", Type: "FieldValueInvalid", Message: `Invalid value: "https://s3.example.com": must be host[:port] without a scheme; drop "https://" and leave insecure false`, Line: 6}},
			}},
		},
		"every static problem is reported at once, and the Secret is not looked at": {
			input: storeHeader + "spec:\n  endpoint: \"\"\n  bucketName: \"\"\n",
			want: []*Store{{
				File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s",
				Message: `BucketStateStore.platform.kratix.io "s" is invalid: [spec.bucketName: Required value: the name of the S3 bucket Kratix writes to, spec.endpoint: Required value: host[:port] of the S3 endpoint, e.g. s3.eu-west-2.amazonaws.com, spec.secretRef: Required value: required when authMethod is accessKey: name a Secret with the keys accessKeyID and secretAccessKey]`,
				Causes: []Cause{
					{Field: "spec.bucketName", Type: "FieldValueRequired", Message: "Required value: the name of the S3 bucket Kratix writes to", Line: 7},
					{Field: "spec.endpoint", Type: "FieldValueRequired", Message: "Required value: host[:port] of the S3 endpoint, e.g. s3.eu-west-2.amazonaws.com", Line: 6},
					{Field: "spec.secretRef", Type: "FieldValueRequired", Message: "Required value: required when authMethod is accessKey: name a Secret with the keys accessKeyID and secretAccessKey", Line: 5},
				},
			}},
		},
		"a Secret without a key fails as the webhook fails it, never with a value": {
			input: secretDoc("creds", "accessKeyID: id") + "---\n" + storeHeader + validSpec,
			want: []*Store{{
				File: "f.yaml", Kind: "BucketStateStore", Line: 9, Name: "s",
				Message: `BucketStateStore.platform.kratix.io "s" is invalid: spec.secretRef: Required value: Secret default/creds has no key "secretAccessKey"`,
				Causes:  []Cause{{Field: "spec.secretRef", Type: "FieldValueRequired", Message: `Required value: Secret default/creds has no key "secretAccessKey"`, Line: 16}},
			}},
		},
		"an empty key fails as the webhook fails it": {
			input: secretDoc("creds", `accessKeyID: ""`, "secretAccessKey: key") + "---\n" + storeHeader + validSpec,
			want: []*Store{{
				File: "f.yaml", Kind: "BucketStateStore", Line: 10, Name: "s",
				Message: `BucketStateStore.platform.kratix.io "s" is invalid: spec.secretRef: Required value: key "accessKeyID" of Secret default/creds is empty`,
				Causes:  []Cause{{Field: "spec.secretRef", Type: "FieldValueRequired", Message: `Required value: key "accessKeyID" of Secret default/creds is empty`, Line: 17}},
			}},
		},
		"a Secret the input does not hold is noted as not checkable offline": {
			input: storeHeader + validSpec,
			want: []*Store{{File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s", Valid: true,
				Notices: []string{"spec.secretRef: Secret default/creds is not in the input, so its keys are not checked offline; --require-secrets makes this an error"}}},
		},
		"with --require-secrets a Secret the input does not hold is not found, as the webhook says": {
			input:          storeHeader + validSpec,
			requireSecrets: true,
			want: []*Store{{
				File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s",
				Message: `BucketStateStore.platform.kratix.io "s" is invalid: spec.secretRef: Not found: "default/creds"`,
				Causes:  []Cause{{Field: "spec.secretRef", Type: "FieldValueNotFound", Message: `Not found: "default/creds"`, Line: 8}},
			}},
		},
		"a Secret in another namespace is not the one the store names": {
			input: storeHeader + validSpec + "---\n" + strings.Replace(completeSecret, "namespace: default", "namespace: other", 1),
			want: []*Store{{File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s", Valid: true,
				Notices: []string{"spec.secretRef: Secret default/creds is not in the input, so its keys are not checked offline; --require-secrets makes this an error"}}},
		},
		"an IAM store with a secretRef gets the webhook's warning and stays valid": {
			input: storeHeader + "spec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n  secretRef:\n    name: creds\n",
			want:  []*Store{{File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s", Valid: true, Warnings: []string{admission.WarningIAMWithSecretRef}}},
		},
		"a YAML 1.1 boolean means what it means to kubectl": {
			input: storeHeader + "spec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n  insecure: yes\n",
			want:  []*Store{{File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "s", Valid: true, Warnings: []string{admission.WarningInsecure}}},
		},
		"a store that does not decode is invalid and says why": {
			input: storeHeader + "spec:\n  endpoint: [a]\n",
			want: []*Store{{File: "f.yaml", Kind: "BucketStateStore", Line: 1, Name: "",
				Message: "decoding the BucketStateStore: json: cannot unmarshal array into Go struct field BucketStateStoreSpec.spec.endpoint of type string"}},
		},
		"other kinds and other versions of the kind are ignored": {
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata:\n  name: d\n---\napiVersion: platform.kratix.io/v1alpha2\nkind: GitStateStore\nmetadata:\n  name: g\n",
		},
		"a GitStateStore whose Secret is in the input with its keys is valid, with Kratix's insecure default": {
			input: gitStoreDoc + "---\n" + secretDoc("git", "username: bot", "password: token"),
			want:  []*Store{{File: "f.yaml", Kind: "GitStateStore", Line: 1, Name: "g", Valid: true, Warnings: []string{admission.WarningGitInsecure}}},
		},
		"a GitStateStore's Secret with a trailing newline fails as the webhook fails it (Kratix #624)": {
			input: gitStoreDoc + "---\n" + secretDoc("git", "username: bot", `password: "token\n"`),
			want: []*Store{{
				File: "f.yaml", Kind: "GitStateStore", Line: 1, Name: "g",
				Message:  `GitStateStore.platform.kratix.io "g" is invalid: spec.secretRef: Invalid value: "default/git": key "password" of Secret default/git ends with a newline, which Kratix keeps, so the server refuses the credentials (Kratix #624); store the value without it, e.g. with kubectl create secret generic --from-literal, or printf rather than echo`,
				Causes:   []Cause{{Field: "spec.secretRef", Type: "FieldValueInvalid", Message: `Invalid value: "default/git": key "password" of Secret default/git ends with a newline, which Kratix keeps, so the server refuses the credentials (Kratix #624); store the value without it, e.g. with kubectl create secret generic --from-literal, or printf rather than echo`, Line: 7}},
				Warnings: []string{admission.WarningGitInsecure},
			}},
		},
		"the stores of a List are checked on their own lines": {
			input: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: platform.kratix.io/v1alpha1\n  kind: BucketStateStore\n  metadata:\n    name: s\n  spec:\n    endpoint: s3.example.com/x\n    bucketName: kratix\n    authMethod: IAM\n",
			want: []*Store{{
				File: "f.yaml", Kind: "BucketStateStore", Line: 4, Name: "s",
				Message: `BucketStateStore.platform.kratix.io "s" is invalid: spec.endpoint: Invalid value: "s3.example.com/x": must be host[:port] without a path`,
				Causes:  []Cause{{Field: "spec.endpoint", Type: "FieldValueInvalid", Message: `Invalid value: "s3.example.com/x": must be host[:port] without a path`, Line: 9}},
			}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.yaml")
			if err := os.WriteFile(path, []byte(tc.input), 0o644); err != nil {
				t.Fatal(err)
			}
			c := &Checker{RequireSecrets: tc.requireSecrets}
			r := c.Check(context.Background(), []string{path}, nil)
			if len(r.Errors) > 0 {
				t.Fatalf("input errors: %v", r.Errors)
			}
			for _, s := range r.Stores {
				s.File = filepath.Base(s.File)
			}
			if diff := cmp.Diff(tc.want, r.Stores, ignoreUnexported, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckProbe(t *testing.T) {
	input := storeHeader + validSpec + "---\n" + completeSecret +
		"---\napiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: unknown-secret\n" +
		"spec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  secretRef:\n    name: elsewhere\n"
	failure := &probe.Failure{Reason: probe.ReasonBucketNotFound, Message: `bucket "kratix" does not exist`}
	var targets []probe.Target
	c := &Checker{Prober: probe.ProberFunc(func(_ context.Context, t probe.Target) error {
		targets = append(targets, t)
		return failure
	})}
	r := c.Check(context.Background(), []string{Stdin}, strings.NewReader(input))

	wantTargets := []probe.Target{{Endpoint: "s3.example.com", Bucket: "kratix", AuthMethod: "accessKey",
		Credentials: &probe.Credentials{AccessKeyID: "id", SecretAccessKey: "key"}}}
	if diff := cmp.Diff(wantTargets, targets); diff != "" {
		t.Errorf("probed targets (-want +got):\n%s", diff)
	}
	want := []*Store{
		{
			File: Stdin, Kind: "BucketStateStore", Line: 1, Name: "s",
			Message: `BucketStateStore.platform.kratix.io "s" is invalid: spec.bucketName: Invalid value: "kratix": bucket "kratix" does not exist (reason: BucketNotFound)`,
			Causes:  []Cause{{Field: "spec.bucketName", Type: "FieldValueInvalid", Message: `Invalid value: "kratix": bucket "kratix" does not exist (reason: BucketNotFound)`, Line: 7}},
		},
		{
			File: Stdin, Kind: "BucketStateStore", Line: 20, Name: "unknown-secret", Valid: true,
			Notices: []string{
				"spec.secretRef: Secret default/elsewhere is not in the input, so its keys are not checked offline; --require-secrets makes this an error",
				"the bucket was not probed: the credentials are not in the input",
			},
		},
	}
	if diff := cmp.Diff(want, r.Stores, ignoreUnexported); diff != "" {
		t.Errorf("stores (-want +got):\n%s", diff)
	}
}

func TestCheckInputErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(storeHeader+validSpec+"---\nkey: [unclosed\n---\n"+storeHeader+validSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	r := (&Checker{}).Check(context.Background(), []string{bad}, nil)
	if got := len(r.Stores); got != 2 {
		t.Errorf("checked %d stores, want the 2 around the broken document", got)
	}
	wantErrs := []InputError{{File: bad, Line: 11, Message: "not valid YAML: did not find expected ',' or ']'"}}
	if diff := cmp.Diff(wantErrs, r.Errors, inputErrors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if got := r.ExitCode(); got != ExitUsage {
		t.Errorf("exit code %d, want %d", got, ExitUsage)
	}
}
