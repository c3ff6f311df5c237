package defaults

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

func TestSpec(t *testing.T) {
	tests := map[string]struct {
		in   v1alpha1.BucketStateStoreSpec
		want v1alpha1.BucketStateStoreSpec
	}{
		"an empty spec gets accessKey and an explicit insecure false": {
			in:   v1alpha1.BucketStateStoreSpec{},
			want: v1alpha1.BucketStateStoreSpec{AuthMethod: "accessKey", Insecure: ptr.To(false)},
		},
		"accessKey with a secretRef without namespace gets the default namespace": {
			in: v1alpha1.BucketStateStoreSpec{
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "creds"}},
			},
			want: v1alpha1.BucketStateStoreSpec{
				AuthMethod:           "accessKey",
				Insecure:             ptr.To(false),
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "creds", Namespace: "default"}},
			},
		},
		"a secretRef namespace that is set is kept": {
			in: v1alpha1.BucketStateStoreSpec{
				AuthMethod:           "accessKey",
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "creds", Namespace: "team-a"}},
			},
			want: v1alpha1.BucketStateStoreSpec{
				AuthMethod:           "accessKey",
				Insecure:             ptr.To(false),
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "creds", Namespace: "team-a"}},
			},
		},
		"insecure true is kept": {
			in:   v1alpha1.BucketStateStoreSpec{AuthMethod: "IAM", Insecure: ptr.To(true)},
			want: v1alpha1.BucketStateStoreSpec{AuthMethod: "IAM", Insecure: ptr.To(true)},
		},
		"IAM does not default the namespace of a secretRef it ignores": {
			in: v1alpha1.BucketStateStoreSpec{
				AuthMethod:           "IAM",
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "creds"}},
			},
			want: v1alpha1.BucketStateStoreSpec{
				AuthMethod:           "IAM",
				Insecure:             ptr.To(false),
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "creds"}},
			},
		},
		"accessKey without a secretRef is left for validation to reject": {
			in:   v1alpha1.BucketStateStoreSpec{AuthMethod: "accessKey", Insecure: ptr.To(false)},
			want: v1alpha1.BucketStateStoreSpec{AuthMethod: "accessKey", Insecure: ptr.To(false)},
		},
		"an unknown authMethod is kept for validation to reject": {
			in:   v1alpha1.BucketStateStoreSpec{AuthMethod: "token"},
			want: v1alpha1.BucketStateStoreSpec{AuthMethod: "token", Insecure: ptr.To(false)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := *tc.in.DeepCopy()
			Spec(&got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("defaulted spec (-want +got):\n%s", diff)
			}
			again := *got.DeepCopy()
			Spec(&again)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Fatalf("defaulting twice changed the spec (-once +twice):\n%s", diff)
			}
		})
	}
}
