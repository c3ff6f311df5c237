package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// BenchmarkSpec defaults a store that lacks every default. Each iteration starts from a
// fresh copy, so that every default is really applied; run with -benchmem.
func BenchmarkSpec(b *testing.B) {
	base := v1alpha1.BucketStateStoreSpec{
		BucketName: "kratix",
		Endpoint:   "minio.kratix-platform-system.svc.cluster.local",
	}
	ref := corev1.SecretReference{Name: "minio-credentials"}
	b.ReportAllocs()
	for b.Loop() {
		spec, r := base, ref
		spec.SecretRef = &r
		Spec(&spec)
		if spec.Insecure == nil || spec.SecretRef.Namespace != DefaultSecretNamespace {
			b.Fatalf("not defaulted: %+v", spec)
		}
	}
}

// BenchmarkSpecAlreadyDefaulted is the common case on the write path: a store the
// defaulting webhook has seen before, which Spec leaves as it is.
func BenchmarkSpecAlreadyDefaulted(b *testing.B) {
	insecure := false
	spec := v1alpha1.BucketStateStoreSpec{
		BucketName: "kratix",
		Endpoint:   "minio.kratix-platform-system.svc.cluster.local",
		Insecure:   &insecure,
		AuthMethod: v1alpha1.AuthMethodAccessKey,
		StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
			SecretRef: &corev1.SecretReference{Name: "minio-credentials", Namespace: "default"},
		},
	}
	b.ReportAllocs()
	for b.Loop() {
		Spec(&spec)
	}
}
