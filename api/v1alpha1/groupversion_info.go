// Package v1alpha1 holds the platform.kratix.io/v1alpha1 BucketStateStore and
// GitStateStore APIs as Kratix defines them (github.com/syntasso/kratix,
// api/v1alpha1/bucketstatestore_types.go and gitstatestore_types.go, with spec.insecure
// of Kratix #943), so the webhook decodes exactly what Kratix's controller reads.
//
// +kubebuilder:object:generate=true
// +groupName=platform.kratix.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the state store APIs.
	GroupVersion = schema.GroupVersion{Group: "platform.kratix.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this package to a scheme. It is apimachinery's,
	// so that importing the API does not import controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &BucketStateStore{}, &BucketStateStoreList{}, &GitStateStore{}, &GitStateStoreList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
