package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuthMethod says where the probe and Kratix take S3 credentials from.
type AuthMethod = string

const (
	// AuthMethodAccessKey reads static credentials from the Secret named by secretRef.
	AuthMethodAccessKey AuthMethod = "accessKey"
	// AuthMethodIAM takes credentials from where the workload runs (IRSA, instance role).
	AuthMethodIAM AuthMethod = "IAM"

	// SecretKeyAccessKeyID and SecretKeySecretAccessKey are the keys Kratix reads from
	// the Secret named by secretRef.
	SecretKeyAccessKeyID     = "accessKeyID"
	SecretKeySecretAccessKey = "secretAccessKey"
)

// The fields, markers and descriptions below follow Kratix's v1alpha1 API so that the
// generated schema matches Kratix's CRD.

// BucketStateStoreSpec defines the desired state of BucketStateStore
type BucketStateStoreSpec struct {
	StateStoreCoreFields `json:",inline"`

	// Name of the bucket; required field.
	BucketName string `json:"bucketName"`

	// Endpoint to access the bucket.
	// Required field.
	Endpoint string `json:"endpoint"`

	// Toggle to turn off or on SSL verification when connecting to the bucket.
	// +optional
	Insecure *bool `json:"insecure,omitempty"` // Kratix has a bool; a pointer tells absent from false, same schema

	// Toggle to use AWS S3 dual-stack (IPv4/IPv6) endpoints. Only has an effect
	// on Amazon S3 endpoints; ignored by other S3-compatible providers.
	// Defaults to false, meaning the endpoint is used exactly as configured.
	// +optional
	UseDualStack bool `json:"useDualStack,omitempty"`

	// Authentication method used to access the StateStore.
	// Default to accessKey; options are accessKey and IAM.
	// +kubebuilder:validation:Enum=accessKey;IAM
	// +kubebuilder:default:=accessKey
	// +optional
	AuthMethod string `json:"authMethod,omitempty"`
}

// StateStoreCoreFields are the fields Kratix shares between its state store kinds.
type StateStoreCoreFields struct {
	// Path within the StateStore to write documents. This path should be allocated
	// to Kratix as it will create, update, and delete files within this path.
	// Path structure begins with provided path and ends with namespaced destination name:
	//   <StateStore.Spec.Path>/<Destination.Spec.Path>/<Destination.Metadata.Namespace>/<Destination.Metadata.Name>/
	// +optional
	Path string `json:"path,omitempty"`

	// SecretRef specifies the Secret containing authentication credentials
	// +optional
	SecretRef *corev1.SecretReference `json:"secretRef,omitempty"`
}

// StateStoreStatus defines the observed state of a state store
type StateStoreStatus struct {
	// Overall status of the StateStore
	Status string `json:"status"`

	// Current conditions of the StateStore. Includes a Ready condition indicating whether Kratix can access the store
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// The generation last observed by the controller
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,path=bucketstatestores,categories=kratix
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.spec.bucketName`,description="Name of the bucket"
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`,description="Endpoint of the bucket"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Indicates the state store is ready to use"

// BucketStateStore is the Schema for the bucketstatestores API
type BucketStateStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BucketStateStoreSpec `json:"spec,omitempty"`
	Status StateStoreStatus     `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BucketStateStoreList contains a list of BucketStateStore
type BucketStateStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BucketStateStore `json:"items"`
}
