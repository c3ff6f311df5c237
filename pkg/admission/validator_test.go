package admission

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

const secretValue = "s3cr3t-value-that-must-never-leak"

type fakeSecrets map[string]*corev1.Secret

func (f fakeSecrets) GetSecret(_ context.Context, namespace, name string) (*corev1.Secret, error) {
	if s, ok := f[namespace+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

type fakeAccess struct{ allowed map[string]bool }

func (f fakeAccess) CanGetSecret(_ context.Context, user authenticationv1.UserInfo, namespace, name string) (bool, error) {
	return f.allowed[user.Username+":"+namespace+"/"+name], nil
}

// recordingProber answers with err and remembers the targets it was asked about.
type recordingProber struct {
	err     error
	targets []probe.Target
}

func (p *recordingProber) Probe(_ context.Context, t probe.Target) error {
	p.targets = append(p.targets, t)
	return p.err
}

func secret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func request(op admissionv1.Operation, obj, old *v1alpha1.BucketStateStore) ctrladmission.Request {
	r := testkit.Review{UID: "uid-1", Operation: op, User: authenticationv1.UserInfo{Username: "alice"},
		Object: testkit.StoreJSON(obj), OldObject: testkit.StoreJSON(old)}
	return ctrladmission.Request{AdmissionRequest: r.Request()}
}

func store(mutate ...func(*v1alpha1.BucketStateStoreSpec)) *v1alpha1.BucketStateStore {
	return &v1alpha1.BucketStateStore{
		TypeMeta:   metav1.TypeMeta{APIVersion: "platform.kratix.io/v1alpha1", Kind: "BucketStateStore"},
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec:       *validSpec(mutate...),
	}
}

func TestValidatorHandle(t *testing.T) {
	spec := field.NewPath("spec")
	goodSecret := secret(map[string]string{"accessKeyID": "minio", "secretAccessKey": secretValue})
	tests := map[string]struct {
		req          ctrladmission.Request
		secrets      fakeSecrets
		access       *fakeAccess
		namespaces   []string // --secret-namespaces
		probeErr     error
		mode         ProbeMode
		wantAllowed  bool
		wantCode     int32
		wantCauses   field.ErrorList
		wantWarnings []string
		wantProbes   int
	}{
		"a usable accessKey store is admitted after one probe": {
			req:         request(admissionv1.Create, store(), nil),
			secrets:     fakeSecrets{"default/minio-credentials": goodSecret},
			wantAllowed: true,
			wantProbes:  1,
		},
		"a dry-run gets every check, the probe included": {
			req: func() ctrladmission.Request {
				r := request(admissionv1.Create, store(), nil)
				r.DryRun = ptr.To(true)
				return r
			}(),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:   &probe.Failure{Reason: probe.ReasonBucketNotFound, Message: `bucket "kratix" does not exist`},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("bucketName"), "kratix", `bucket "kratix" does not exist (reason: BucketNotFound)`)},
			wantProbes: 1,
		},
		"a Secret outside --secret-namespaces is forbidden before the access review": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			access:     &fakeAccess{},
			namespaces: []string{"kratix-credentials", "platform"},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Forbidden(spec.Child("secretRef", "namespace"),
				"the webhook reads Secrets only in namespaces kratix-credentials, platform; put the Secret in one of them")},
		},
		"a Secret outside --secret-namespaces is forbidden without reading it": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{},
			namespaces: []string{"platform"},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Forbidden(spec.Child("secretRef", "namespace"),
				"the webhook reads Secrets only in namespaces platform; put the Secret in one of them")},
		},
		"a Secret inside --secret-namespaces is read and probed": {
			req:         request(admissionv1.Create, store(), nil),
			secrets:     fakeSecrets{"default/minio-credentials": goodSecret},
			namespaces:  []string{"platform", "default"},
			wantAllowed: true,
			wantProbes:  1,
		},
		"DELETE is always allowed": {
			req:         request(admissionv1.Delete, nil, store()),
			wantAllowed: true,
		},
		"a missing Secret is reported as not found on spec.secretRef": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.NotFound(spec.Child("secretRef"), "default/minio-credentials")},
		},
		"each missing key is its own cause": {
			req:      request(admissionv1.Create, store(), nil),
			secrets:  fakeSecrets{"default/minio-credentials": secret(map[string]string{"other": "x"})},
			wantCode: http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{
				field.Required(spec.Child("secretRef"), `Secret default/minio-credentials has no key "accessKeyID"`),
				field.Required(spec.Child("secretRef"), `Secret default/minio-credentials has no key "secretAccessKey"`),
			},
		},
		"an empty key is rejected without showing any value": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{"default/minio-credentials": secret(map[string]string{"accessKeyID": "minio", "secretAccessKey": ""})},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Required(spec.Child("secretRef"), `key "secretAccessKey" of Secret default/minio-credentials is empty`)},
		},
		"a user who may not read the Secret is denied without learning whether it exists": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{},
			access:     &fakeAccess{},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Forbidden(spec.Child("secretRef"), `user "alice" may not get Secret default/minio-credentials; the webhook reads a Secret only for users who may read it themselves`)},
		},
		"a user who may read the Secret is checked as usual": {
			req:         request(admissionv1.Create, store(), nil),
			secrets:     fakeSecrets{"default/minio-credentials": goodSecret},
			access:      &fakeAccess{allowed: map[string]bool{"alice:default/minio-credentials": true}},
			wantAllowed: true,
			wantProbes:  1,
		},
		"static problems are reported before any Secret is read or bucket probed": {
			req:      request(admissionv1.Create, store(func(s *v1alpha1.BucketStateStoreSpec) { s.BucketName = "ab"; s.Endpoint = "https://minio" }), nil),
			wantCode: http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{
				field.Invalid(spec.Child("bucketName"), "ab", "must be a valid S3 bucket name: bucket name cannot be shorter than 3 characters"),
				field.Invalid(spec.Child("endpoint"), "https://minio", `must be host[:port] without a scheme; drop "https://" and leave insecure false`),
			},
		},
		"a wrong secret key is put on spec.secretRef": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:   &probe.Failure{Reason: probe.ReasonSignatureMismatch, Message: "the secret access key is wrong"},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("secretRef"), "default/minio-credentials", "the secret access key is wrong (reason: SignatureDoesNotMatch)")},
			wantProbes: 1,
		},
		"an unreachable endpoint is put on spec.endpoint": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:   &probe.Failure{Reason: probe.ReasonTimeout, Message: "timed out after 5s"},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio.kratix-platform-system.svc.cluster.local", "timed out after 5s (reason: Timeout)")},
			wantProbes: 1,
		},
		"an endpoint the guard refuses says that this is a security rule, not a store Kratix cannot use": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:   &probe.Failure{Reason: probe.ReasonEndpointForbidden, Message: `endpoint "minio" is refused: denied range 10.0.0.0/8`},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio.kratix-platform-system.svc.cluster.local", `endpoint "minio" is refused: denied range 10.0.0.0/8; this is the webhook's endpoint guard, a security rule, not a store Kratix cannot use (reason: EndpointForbidden)`)},
			wantProbes: 1,
		},
		"a bucket name the server refuses is put on spec.bucketName": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:   &probe.Failure{Reason: probe.ReasonInvalidBucketName, Message: `the server refuses the bucket name "kratix"`},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("bucketName"), "kratix", `the server refuses the bucket name "kratix" (reason: InvalidBucketName)`)},
			wantProbes: 1,
		},
		"HTTP against a TLS server is put on spec.insecure": {
			req:          request(admissionv1.Create, store(func(s *v1alpha1.BucketStateStoreSpec) { s.Insecure = ptr.To(true) }), nil),
			secrets:      fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:     &probe.Failure{Reason: probe.ReasonTLSMismatch, Message: "the endpoint speaks HTTPS"},
			wantCode:     http.StatusUnprocessableEntity,
			wantCauses:   field.ErrorList{field.Invalid(spec.Child("insecure"), true, "the endpoint speaks HTTPS (reason: TLSMismatch)")},
			wantWarnings: []string{WarningInsecure},
			wantProbes:   1,
		},
		"an IAM store denied access is put on spec.authMethod": {
			req:        request(admissionv1.Create, store(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = "IAM"; s.SecretRef = nil }), nil),
			probeErr:   &probe.Failure{Reason: probe.ReasonAccessDenied, Message: "access denied"},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("authMethod"), "IAM", "access denied (reason: AccessDenied)")},
			wantProbes: 1,
		},
		"an IAM store the prober did not probe is admitted with the prober's warning": {
			req:          request(admissionv1.Create, store(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = "IAM"; s.SecretRef = nil }), nil),
			probeErr:     &probe.NotProbed{Reason: probe.ReasonIAMNotTrusted, Warning: probe.WarningIAMNotProbed},
			wantAllowed:  true,
			wantWarnings: []string{probe.WarningIAMNotProbed},
			wantProbes:   1,
		},
		"an IAM store at an endpoint that may not receive the webhook's identity is denied on spec.authMethod": {
			req:        request(admissionv1.Create, store(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = "IAM"; s.SecretRef = nil }), nil),
			probeErr:   &probe.Failure{Reason: probe.ReasonIAMNotTrusted, Message: "not to this endpoint"},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("authMethod"), "IAM", "not to this endpoint (reason: IAMEndpointNotTrusted)")},
			wantProbes: 1,
		},
		"an error that is not a Failure is reported as Unknown": {
			req:        request(admissionv1.Create, store(), nil),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:   errors.New("boom"),
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.Invalid(spec.Child("endpoint"), "minio.kratix-platform-system.svc.cluster.local", "boom (reason: Unknown)")},
			wantProbes: 1,
		},
		"warn mode admits a failed probe with a warning": {
			req:          request(admissionv1.Create, store(), nil),
			secrets:      fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:     &probe.Failure{Reason: probe.ReasonBucketNotFound, Message: `bucket "kratix" does not exist`},
			mode:         ProbeWarn,
			wantAllowed:  true,
			wantWarnings: []string{`the probe failed but --probe=warn admits the store: bucket "kratix" does not exist (reason: BucketNotFound)`},
			wantProbes:   1,
		},
		"off mode does not probe": {
			req:         request(admissionv1.Create, store(), nil),
			secrets:     fakeSecrets{"default/minio-credentials": goodSecret},
			probeErr:    errors.New("must not be called"),
			mode:        ProbeOff,
			wantAllowed: true,
		},
		"insecure true is admitted with a warning": {
			req:          request(admissionv1.Create, store(func(s *v1alpha1.BucketStateStoreSpec) { s.Insecure = ptr.To(true) }), nil),
			secrets:      fakeSecrets{"default/minio-credentials": goodSecret},
			wantAllowed:  true,
			wantWarnings: []string{WarningInsecure},
			wantProbes:   1,
		},
		"IAM with a secretRef is admitted with a warning": {
			req:          request(admissionv1.Create, store(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = "IAM" }), nil),
			wantAllowed:  true,
			wantWarnings: []string{WarningIAMWithSecretRef},
			wantProbes:   1,
		},
		"an UPDATE that changes the spec is checked again": {
			req: request(admissionv1.Update,
				store(func(s *v1alpha1.BucketStateStoreSpec) { s.SecretRef.Name = "wrong" }), store()),
			secrets:    fakeSecrets{"default/minio-credentials": goodSecret},
			wantCode:   http.StatusUnprocessableEntity,
			wantCauses: field.ErrorList{field.NotFound(spec.Child("secretRef"), "default/wrong")},
		},
		"an UPDATE that leaves the spec alone is allowed without a probe": {
			req: func() ctrladmission.Request {
				changed := store()
				changed.Finalizers = []string{"kratix.io/finalizer"}
				return request(admissionv1.Update, changed, store())
			}(),
			probeErr:    errors.New("must not be called"),
			wantAllowed: true,
		},
		"an UPDATE of a store stored before the webhook's defaults is allowed without a probe": {
			req: func() ctrladmission.Request {
				old := store(func(s *v1alpha1.BucketStateStoreSpec) {
					s.AuthMethod, s.Insecure, s.SecretRef.Namespace = "", nil, ""
				})
				changed := store() // as the mutating webhook leaves it: every default set
				changed.Labels = map[string]string{"team": "platform"}
				return request(admissionv1.Update, changed, old)
			}(),
			probeErr:    errors.New("must not be called"),
			wantAllowed: true,
		},
		"another kind is refused with a bad request": {
			req: func() ctrladmission.Request {
				r := request(admissionv1.Create, store(), nil)
				r.Kind.Kind = "Destination"
				return r
			}(),
			wantCode: http.StatusBadRequest,
		},
		"a truncated object is refused with a bad request": {
			req: func() ctrladmission.Request {
				r := request(admissionv1.Create, store(), nil)
				r.Object.Raw = r.Object.Raw[:10]
				return r
			}(),
			wantCode: http.StatusBadRequest,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			prober := &recordingProber{err: tc.probeErr}
			v := &Validator{Secrets: tc.secrets, Prober: prober, ProbeMode: ProbeEnforce, SecretNamespaces: tc.namespaces}
			if tc.mode != "" {
				v.ProbeMode = tc.mode
			}
			if tc.access != nil {
				v.Access = tc.access
			}
			resp := v.Handle(context.Background(), tc.req)

			if resp.Allowed != tc.wantAllowed {
				t.Fatalf("allowed = %v, want %v (result %+v)", resp.Allowed, tc.wantAllowed, resp.Result)
			}
			if !tc.wantAllowed {
				if resp.Result == nil || resp.Result.Code != tc.wantCode {
					t.Fatalf("result = %+v, want code %d", resp.Result, tc.wantCode)
				}
			}
			if tc.wantCauses != nil {
				want := apierrors.NewInvalid(schema.GroupKind{Group: "platform.kratix.io", Kind: "BucketStateStore"}, "default", tc.wantCauses).Status()
				if diff := cmp.Diff(&want, resp.Result); diff != "" {
					t.Fatalf("status (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tc.wantWarnings, resp.Warnings); diff != "" {
				t.Fatalf("warnings (-want +got):\n%s", diff)
			}
			if len(prober.targets) != tc.wantProbes {
				t.Fatalf("probes = %d, want %d", len(prober.targets), tc.wantProbes)
			}
			if out, _ := json.Marshal(resp); containsSecret(out) {
				t.Fatalf("the response holds the secret value: %s", out)
			}
		})
	}
}

func TestValidatorPassesResolvedCredentialsToTheProber(t *testing.T) {
	prober := &recordingProber{}
	v := &Validator{
		Secrets:   fakeSecrets{"team-a/creds": secret(map[string]string{"accessKeyID": "minio", "secretAccessKey": secretValue})},
		Prober:    prober,
		ProbeMode: ProbeEnforce,
	}
	obj := store(func(s *v1alpha1.BucketStateStoreSpec) {
		s.SecretRef = &corev1.SecretReference{Name: "creds", Namespace: "team-a"}
		s.UseDualStack = true
		s.Endpoint = "127.0.0.1:9000"
		s.Insecure = ptr.To(true)
	})
	if resp := v.Handle(context.Background(), request(admissionv1.Create, obj, nil)); !resp.Allowed {
		t.Fatalf("denied: %+v", resp.Result)
	}
	want := []probe.Target{{
		Endpoint: "127.0.0.1:9000", Bucket: "kratix", Path: "destinations/", Insecure: true, UseDualStack: true,
		AuthMethod: "accessKey", Credentials: &probe.Credentials{AccessKeyID: "minio", SecretAccessKey: secretValue},
	}}
	if diff := cmp.Diff(want, prober.targets); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}
}

func containsSecret(b []byte) bool {
	return strings.Contains(string(b), secretValue)
}

func TestShortenCutsAtACharacterBoundary(t *testing.T) {
	s := strings.Repeat("a", maxShownLength-1) + "é" // é is 2 bytes, straddling the limit
	got := shorten(s)
	if want := strings.Repeat("a", maxShownLength-1) + "..."; got != want {
		t.Errorf("shorten = %q, want %q", got, want)
	}
	if short := "é"; shorten(short) != short {
		t.Errorf("shorten changed a short string")
	}
}
