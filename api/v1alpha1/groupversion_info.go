// Package v1alpha1 holds the platform.kratix.io/v1alpha1 BucketStateStore API as Kratix
// defines it (github.com/syntasso/kratix, api/v1alpha1/bucketstatestore_types.go), so the
// webhook decodes exactly what Kratix's controller reads.
//
// +kubebuilder:object:generate=true
// +groupName=platform.kratix.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the BucketStateStore API.
	GroupVersion = schema.GroupVersion{Group: "platform.kratix.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this package to a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
