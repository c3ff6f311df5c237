package defaults

import (
	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// DefaultSecretNamespace is the namespace Kratix's controller reads a secretRef from when
// the reference names none.
const DefaultSecretNamespace = "default"

// Spec sets the defaults of a BucketStateStore spec in place:
//   - authMethod absent becomes accessKey, as the CRD's schema default does;
//   - insecure absent becomes an explicit false, so the stored object says that TLS is used;
//   - for accessKey, an empty secretRef.namespace becomes "default", the namespace
//     Kratix's controller falls back to.
//
// A missing secretRef is left missing: validation reports it.
func Spec(spec *v1alpha1.BucketStateStoreSpec) {
	if spec.AuthMethod == "" {
		spec.AuthMethod = v1alpha1.AuthMethodAccessKey
	}
	if spec.Insecure == nil {
		insecure := false
		spec.Insecure = &insecure
	}
	if spec.AuthMethod == v1alpha1.AuthMethodAccessKey && spec.SecretRef != nil && spec.SecretRef.Namespace == "" {
		spec.SecretRef.Namespace = DefaultSecretNamespace
	}
}
