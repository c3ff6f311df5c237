package admission

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// validSpec is an accessKey store that passes every static rule; cases change one thing.
func validSpec(mutate ...func(*v1alpha1.BucketStateStoreSpec)) *v1alpha1.BucketStateStoreSpec {
	spec := &v1alpha1.BucketStateStoreSpec{
		BucketName: "kratix",
		Endpoint:   "minio.kratix-platform-system.svc.cluster.local",
		AuthMethod: "accessKey",
		StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
			Path:      "destinations/",
			SecretRef: &corev1.SecretReference{Name: "minio-credentials", Namespace: "default"},
		},
	}
	for _, m := range mutate {
		m(spec)
	}
	return spec
}

// The messages that several cases expect.
const (
	rfc1123HostMessage = "host must be a DNS name or an IP address: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	pathClimbsMessage  = `must stay inside the bucket: its ".." segments climb above the bucket's root, and S3 servers refuse such keys (MinIO: "Resource name contains bad components such as '..' or '.'")`
)

func TestValidateSpec(t *testing.T) {
	spec := field.NewPath("spec")
	tests := map[string]struct {
		spec         *v1alpha1.BucketStateStoreSpec
		want         field.ErrorList
		wantWarnings []string
	}{
		"a complete accessKey store is valid": {
			spec: validSpec(),
		},
		"an IAM store needs no secretRef": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = "IAM"; s.SecretRef = nil }),
		},
		"a store without authMethod is defaulted to accessKey and needs a secretRef": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = ""; s.SecretRef = nil }),
			want: field.ErrorList{field.Required(spec.Child("secretRef"), "required when authMethod is accessKey: name a Secret with the keys accessKeyID and secretAccessKey")},
		},
		"an insecure store is valid, with a warning": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Insecure = ptr.To(true) }),
			wantWarnings: []string{WarningInsecure},
		},
		"an IAM store with a secretRef is valid, with a warning": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = "IAM" }),
			wantWarnings: []string{WarningIAMWithSecretRef},
		},
		"an endpoint with a port and an IP endpoint are valid": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "127.0.0.1:9000" }),
		},
		"a bucket name over 63 characters is too long, without repeating it": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.BucketName = strings.Repeat("b", 64) }),
			want: field.ErrorList{field.TooLong(spec.Child("bucketName"), strings.Repeat("b", 64), 63)},
		},
		"a path that leaves no room for Kratix's write check key is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = strings.Repeat("p", 994) }),
			want: field.ErrorList{field.Invalid(spec.Child("path"), strings.Repeat("p", 994), `must leave room for Kratix's write check: ".kratix-write-permission-check" under the cleaned path must fit in S3's 1024-byte keys`)},
		},
		"the longest path that leaves room for Kratix's write check key is valid": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = strings.Repeat("p", 993) + "/" }),
		},
		"a path over 1024 characters is too long": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = strings.Repeat("p", 1025) }),
			want: field.ErrorList{field.TooLong(spec.Child("path"), strings.Repeat("p", 1025), 1024)},
		},
		"an endpoint longer than a DNS name and a port is too long": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = strings.Repeat("e", 262) }),
			want: field.ErrorList{field.TooLong(spec.Child("endpoint"), strings.Repeat("e", 262), 261)},
		},
		"a bracketed IPv6 endpoint with a port is valid": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "[2001:db8::1]:9000" }),
		},
		"a bracketed IPv6 endpoint without a port is valid": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "[2001:db8::1]" }),
		},
		"an IPv6 endpoint without brackets is rejected with the bracketed form": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "2001:db8::1" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "2001:db8::1", "must be host[:port]; write an IPv6 address in brackets, e.g. [2001:db8::1]:9000")},
		},
		"an empty spec reports every required field at once": {
			spec: &v1alpha1.BucketStateStoreSpec{},
			want: field.ErrorList{
				field.Required(spec.Child("bucketName"), "the name of the S3 bucket Kratix writes to"),
				field.Required(spec.Child("endpoint"), "host[:port] of the S3 endpoint, e.g. s3.eu-west-2.amazonaws.com"),
				field.Required(spec.Child("secretRef"), "required when authMethod is accessKey: name a Secret with the keys accessKeyID and secretAccessKey"),
			},
		},
		"a bucket name with upper case, which minio-go sends and legacy buckets take, is valid with a warning": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.BucketName = "Kratix" }),
			wantWarnings: []string{`spec.bucketName "Kratix" has upper case, "_" or ":": only legacy Amazon S3 buckets (us-east-1, before March 2018) take such names; MinIO and newer buckets refuse them`},
		},
		"a bucket name with a character minio-go refuses is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.BucketName = "kratix+state" }),
			want: field.ErrorList{field.Invalid(spec.Child("bucketName"), "kratix+state", "must be a valid S3 bucket name: bucket name contains invalid characters")},
		},
		"a bucket name with a path separator is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.BucketName = "kratix/state" }),
			want: field.ErrorList{field.Invalid(spec.Child("bucketName"), "kratix/state", "must be a valid S3 bucket name: bucket name cannot contain path separators")},
		},
		"a bucket name that is too short is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.BucketName = "ab" }),
			want: field.ErrorList{field.Invalid(spec.Child("bucketName"), "ab", "must be a valid S3 bucket name: bucket name cannot be shorter than 3 characters")},
		},
		"a bucket name shaped like an IP address is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.BucketName = "192.168.1.1" }),
			want: field.ErrorList{field.Invalid(spec.Child("bucketName"), "192.168.1.1", "must be a valid S3 bucket name: bucket name cannot be an ip address")},
		},
		"an https endpoint says to drop the scheme and keep insecure false": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "https://s3.amazonaws.com" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "https://s3.amazonaws.com", `must be host[:port] without a scheme; drop "https://" and leave insecure false`)},
		},
		"an http endpoint says to drop the scheme and set insecure": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "http://minio:9000" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "http://minio:9000", `must be host[:port] without a scheme; drop "http://" and set insecure: true for plain HTTP`)},
		},
		"an endpoint with a path is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "minio:9000/kratix" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio:9000/kratix", "must be host[:port] without a path")},
		},
		"an endpoint with a query is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "minio?x=1" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio?x=1", "must be host[:port] without a query")},
		},
		"an endpoint with user info is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "user@minio" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "user@minio", "must be host[:port] without user info")},
		},
		"an endpoint with port 0 is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "minio:0" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio:0", "port must be a number from 1 to 65535")},
		},
		"an endpoint with port 65536 is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "minio:65536" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio:65536", "port must be a number from 1 to 65535")},
		},
		"an endpoint with a named port is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "minio:https" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio:https", "port must be a number from 1 to 65535")},
		},
		"an endpoint host with an underscore, which Go's resolver looks up, is valid with a warning": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "my_minio:9000" }),
			wantWarnings: []string{WarningEndpointUnderscore},
		},
		"an endpoint host that starts with an underscore is rejected, as minio.New does": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "_minio:9000" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "_minio:9000", rfc1123HostMessage)},
		},
		"an endpoint host in upper case, which Kratix uses, is valid with a warning that gives it in lower case": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "LOCALHOST:9000" }),
			wantWarnings: []string{`spec.endpoint has upper case in its host: Kratix uses it, as host names are case-insensitive, but certificates and allowlists spell them in lower case; write "localhost:9000"`},
		},
		"an endpoint host with a trailing dot, which Kratix could not use, is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "localhost.:9000" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "localhost.:9000", rfc1123HostMessage)},
		},
		"an endpoint host with an empty label is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "minio..local" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio..local", rfc1123HostMessage)},
		},
		"an unbracketed IPv6 endpoint with a port is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Endpoint = "2001:db8::1::9000" }),
			want: field.ErrorList{field.Invalid(spec.Child("endpoint"), "2001:db8::1::9000", "must be host[:port]; write an IPv6 address in brackets, e.g. [2001:db8::1]:9000")},
		},
		"a path whose dot-dot segment stays inside it is valid with a warning that gives the cleaned path": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "destinations/../other" }),
			wantWarnings: []string{`spec.path has a ".." segment: Kratix cleans the path and writes under what is left; write "other"`},
		},
		"a path whose dot-dot segments cancel it out is valid with a warning to write nothing": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "a/.." }),
			wantWarnings: []string{`spec.path has a ".." segment: Kratix cleans the path and writes under what is left; write ""`},
		},
		"a path that climbs above the bucket's root is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "../escape" }),
			want: field.ErrorList{field.Invalid(spec.Child("path"), "../escape", pathClimbsMessage)},
		},
		"a path that climbs above the bucket's root once cleaned is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "stores/../../etc" }),
			want: field.ErrorList{field.Invalid(spec.Child("path"), "stores/../../etc", pathClimbsMessage)},
		},
		"a path that is only a dot-dot is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = ".." }),
			want: field.ErrorList{field.Invalid(spec.Child("path"), "..", pathClimbsMessage)},
		},
		"a path with a trailing slash or a double slash is valid without a warning": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "a//b/" }),
		},
		"a path with dots inside a name is valid": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "v1..2/destinations" }),
		},
		"a path with a leading slash, which Kratix uses, is valid with a warning that says what to write instead": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "/destinations" }),
			wantWarnings: []string{`spec.path starts with "/": Kratix then writes keys that start with "/", and S3 servers differ on whether the key keeps it; write "destinations"`},
		},
		"a path of only a slash is valid with a warning to write nothing": {
			spec:         validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "/" }),
			wantWarnings: []string{`spec.path starts with "/": Kratix then writes keys that start with "/", and S3 servers differ on whether the key keeps it; write ""`},
		},
		"a rooted path with a dot-dot segment cannot climb and gets both warnings": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.Path = "/../a" }),
			wantWarnings: []string{
				`spec.path starts with "/": Kratix then writes keys that start with "/", and S3 servers differ on whether the key keeps it; write "a"`,
				`spec.path has a ".." segment: Kratix cleans the path and writes under what is left; write "a"`,
			},
		},
		"an unknown authMethod is not supported": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = "token" }),
			want: field.ErrorList{field.NotSupported(spec.Child("authMethod"), "token", []string{"accessKey", "IAM"})},
		},
		"accessKey without secretRef is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.SecretRef = nil }),
			want: field.ErrorList{field.Required(spec.Child("secretRef"), "required when authMethod is accessKey: name a Secret with the keys accessKeyID and secretAccessKey")},
		},
		"accessKey with a secretRef without name is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.SecretRef = &corev1.SecretReference{Namespace: "default"} }),
			want: field.ErrorList{field.Required(spec.Child("secretRef", "name"), "the name of the Secret holding the credentials")},
		},
		"a secretRef with an invalid namespace is rejected": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) { s.SecretRef.Namespace = "Team.A" }),
			want: field.ErrorList{field.Invalid(spec.Child("secretRef", "namespace"), "Team.A", "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")},
		},
		"several problems are reported together": {
			spec: validSpec(func(s *v1alpha1.BucketStateStoreSpec) {
				s.BucketName = "Bad+Bucket"
				s.Endpoint = "https://s3.amazonaws.com"
				s.SecretRef = nil
			}),
			want: field.ErrorList{
				field.Invalid(spec.Child("bucketName"), "Bad+Bucket", "must be a valid S3 bucket name: bucket name contains invalid characters"),
				field.Invalid(spec.Child("endpoint"), "https://s3.amazonaws.com", `must be host[:port] without a scheme; drop "https://" and leave insecure false`),
				field.Required(spec.Child("secretRef"), "required when authMethod is accessKey: name a Secret with the keys accessKeyID and secretAccessKey"),
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			defaults.Spec(tc.spec)
			got, warnings := validateSpec(tc.spec, spec)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarnings, warnings); diff != "" {
				t.Fatalf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLongestWarningsStayUnderTheAPIServersLimit builds each warning from the longest
// values the rules admit and checks that none is cut by the API server (256 bytes).
func TestLongestWarningsStayUnderTheAPIServersLimit(t *testing.T) {
	label := strings.Repeat("A", 31) + "_" + strings.Repeat("A", 31)     // 63 bytes: upper case and "_"
	host := strings.Join([]string{label, label, label, label[:61]}, ".") // 253 bytes
	// Bytes that %q writes four times as long, so that only the cut keeps them short.
	path := "/a/../" + strings.Repeat("\x01", maxKeyLength-len("/a/../")-len("/"+kratixCheckObject))
	tests := map[string]*v1alpha1.BucketStateStoreSpec{
		"the longest legacy bucket name, endpoint and path, insecure, IAM with a secretRef": validSpec(func(s *v1alpha1.BucketStateStoreSpec) {
			s.BucketName = strings.Repeat("B", maxBucketNameLength)
			s.Endpoint = host + ":65535"
			s.Path = path
			s.Insecure = ptr.To(true)
			s.AuthMethod = "IAM"
			s.SecretRef = &corev1.SecretReference{Name: strings.Repeat("s", 253), Namespace: strings.Repeat("n", 63)}
		}),
	}
	for name, spec := range tests {
		t.Run(name, func(t *testing.T) {
			defaults.Spec(spec)
			errs, warnings := validateSpec(spec, field.NewPath("spec"))
			if len(errs) > 0 {
				t.Fatalf("the longest values must be valid, got %v", errs)
			}
			if len(warnings) != 7 {
				t.Errorf("got %d warnings, want one of each kind (7): %q", len(warnings), warnings)
			}
			for _, w := range warnings {
				if len(w) > maxWarningLength {
					t.Errorf("warning of %d bytes, want at most %d: %s", len(w), maxWarningLength, w)
				}
			}
		})
	}

	for _, reason := range probe.Reasons {
		failure := &probe.Failure{Reason: reason, Message: fmt.Sprintf("host %q of endpoint %q could not be resolved", host, host+":65535")}
		w := probeWarning(failure)
		if len(w) > maxWarningLength {
			t.Errorf("--probe=warn warning for %s has %d bytes, want at most %d: %s", reason, len(w), maxWarningLength, w)
		}
		if !strings.HasSuffix(w, "(reason: "+string(reason)+")") {
			t.Errorf("--probe=warn warning lost its reason: %s", w)
		}
	}
}
