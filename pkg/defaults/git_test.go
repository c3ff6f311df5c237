package defaults

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

func TestGitSpec(t *testing.T) {
	core := func(ref *corev1.SecretReference) v1alpha1.StateStoreCoreFields {
		return v1alpha1.StateStoreCoreFields{SecretRef: ref}
	}
	tests := map[string]struct {
		in   v1alpha1.GitStateStoreSpec
		want v1alpha1.GitStateStoreSpec
	}{
		"an empty spec gets main, basicAuth and the kratix author, and no insecure, as Kratix #943": {
			in: v1alpha1.GitStateStoreSpec{},
			want: v1alpha1.GitStateStoreSpec{Branch: ptr.To("main"), AuthMethod: "basicAuth",
				GitAuthor: &v1alpha1.GitAuthor{Name: "kratix"}},
		},
		"a secretRef without namespace gets the default namespace": {
			in: v1alpha1.GitStateStoreSpec{AuthMethod: "ssh", StateStoreCoreFields: core(&corev1.SecretReference{Name: "creds"})},
			want: v1alpha1.GitStateStoreSpec{Branch: ptr.To("main"), AuthMethod: "ssh", GitAuthor: &v1alpha1.GitAuthor{Name: "kratix"},
				StateStoreCoreFields: core(&corev1.SecretReference{Name: "creds", Namespace: "default"})},
		},
		"what is set is kept": {
			in: v1alpha1.GitStateStoreSpec{Branch: ptr.To("kratix"), AuthMethod: "githubApp", GitAuthor: &v1alpha1.GitAuthor{Name: "bot", Email: "bot@example.com"},
				Insecure: ptr.To(false), StateStoreCoreFields: core(&corev1.SecretReference{Name: "creds", Namespace: "team-a"})},
			want: v1alpha1.GitStateStoreSpec{Branch: ptr.To("kratix"), AuthMethod: "githubApp", GitAuthor: &v1alpha1.GitAuthor{Name: "bot", Email: "bot@example.com"},
				Insecure: ptr.To(false), StateStoreCoreFields: core(&corev1.SecretReference{Name: "creds", Namespace: "team-a"})},
		},
		"an empty gitAuthor is kept, as the API server keeps it, for validation to reject": {
			in:   v1alpha1.GitStateStoreSpec{GitAuthor: &v1alpha1.GitAuthor{}},
			want: v1alpha1.GitStateStoreSpec{Branch: ptr.To("main"), AuthMethod: "basicAuth", GitAuthor: &v1alpha1.GitAuthor{}},
		},
		"an explicit empty branch is kept: Kratix then uses the remote's default branch": {
			in:   v1alpha1.GitStateStoreSpec{Branch: ptr.To("")},
			want: v1alpha1.GitStateStoreSpec{Branch: ptr.To(""), AuthMethod: "basicAuth", GitAuthor: &v1alpha1.GitAuthor{Name: "kratix"}},
		},
		"a gitAuthor with only an email keeps its empty name for validation to reject": {
			in: v1alpha1.GitStateStoreSpec{GitAuthor: &v1alpha1.GitAuthor{Email: "bot@example.com"}},
			want: v1alpha1.GitStateStoreSpec{Branch: ptr.To("main"), AuthMethod: "basicAuth",
				GitAuthor: &v1alpha1.GitAuthor{Email: "bot@example.com"}},
		},
		"an unknown authMethod is kept for validation to reject": {
			in: v1alpha1.GitStateStoreSpec{AuthMethod: "token"},
			want: v1alpha1.GitStateStoreSpec{Branch: ptr.To("main"), AuthMethod: "token",
				GitAuthor: &v1alpha1.GitAuthor{Name: "kratix"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := *tc.in.DeepCopy()
			GitSpec(&got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("defaulted spec (-want +got):\n%s", diff)
			}
			again := *got.DeepCopy()
			GitSpec(&again)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Fatalf("defaulting twice changed the spec (-once +twice):\n%s", diff)
			}
		})
	}
}
