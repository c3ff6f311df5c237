package admission

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// TestEvaluateGitStore runs the pipeline on Git stores: the Secret's checks, the
// credentials the prober gets, and the field each probe failure is put on.
func TestEvaluateGitStore(t *testing.T) {
	obj := &v1alpha1.GitStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: "git"},
		Spec: v1alpha1.GitStateStoreSpec{
			URL: "https://git.example.com/platform/state.git", Insecure: ptr.To(false),
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "git"}},
		},
	}
	secrets := fakeSecrets{"default/git": secret(map[string]string{"username": "bot", "password": secretValue})}
	tests := map[string]struct {
		probeErr  error
		wantField string // empty: admitted
	}{
		"a store whose probe passes is admitted":                     {},
		"a failure about the credentials is put on spec.secretRef":   {probeErr: &probe.Failure{Reason: probe.ReasonAccessDenied}, wantField: "spec.secretRef"},
		"a failure about TLS and plain HTTP is put on spec.insecure": {probeErr: &probe.Failure{Reason: probe.ReasonTLSMismatch}, wantField: "spec.insecure"},
		"a failure about the host is put on spec.url":                {probeErr: &probe.Failure{Reason: probe.ReasonNameNotResolved}, wantField: "spec.url"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []probe.GitTarget
			p := &Pipeline{Secrets: secrets, ProbeMode: ProbeEnforce, GitProber: probe.GitProberFunc(func(_ context.Context, target probe.GitTarget) error {
				got = append(got, target)
				return tc.probeErr
			})}
			out := p.EvaluateGitStore(context.Background(), authenticationv1.UserInfo{Username: "alice"}, obj)
			want := []probe.GitTarget{{URL: obj.Spec.URL, Branch: "main", Insecure: false, AuthMethod: "basicAuth",
				Credentials: &probe.GitCredentials{Username: "bot", Password: secretValue}}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("targets probed (-want +got):\n%s", diff)
			}
			denial := out.Denial()
			switch {
			case tc.wantField == "" && denial != nil:
				t.Fatalf("denied: %v", denial.Message)
			case tc.wantField == "":
			case denial == nil:
				t.Fatalf("admitted, want a denial on %s", tc.wantField)
			case len(denial.Details.Causes) != 1 || denial.Details.Causes[0].Field != tc.wantField:
				t.Fatalf("causes %+v, want one on %s", denial.Details.Causes, tc.wantField)
			}
		})
	}
}
