package defaults

import (
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// Kratix's defaults for a GitStateStore, from its CRD's schema.
const (
	// DefaultGitBranch is the branch Kratix clones and pushes when the store names none.
	DefaultGitBranch = "main"
	// DefaultGitAuthorName is the name Kratix commits as when the store names no author.
	DefaultGitAuthorName = "kratix"
)

// GitSpec sets the defaults of a GitStateStore spec in place, as Kratix's CRD and its
// GetSecretRef do:
//   - branch absent becomes main;
//   - authMethod absent becomes basicAuth;
//   - gitAuthor absent, or empty, becomes name kratix: the CRD defaults the whole object,
//     so a gitAuthor with only an email keeps its empty name, which validation reports;
//   - insecure absent becomes true, the default of Kratix #943, which keeps what Kratix
//     did before the field existed: it verified no certificate;
//   - an empty secretRef.namespace becomes "default", whatever the auth method.
//
// A missing secretRef is left missing: validation reports it.
func GitSpec(spec *v1alpha1.GitStateStoreSpec) {
	if spec.Branch == "" {
		spec.Branch = DefaultGitBranch
	}
	if spec.AuthMethod == "" {
		spec.AuthMethod = v1alpha1.GitAuthMethodBasicAuth
	}
	if spec.GitAuthor == nil || *spec.GitAuthor == (v1alpha1.GitAuthor{}) {
		spec.GitAuthor = &v1alpha1.GitAuthor{Name: DefaultGitAuthorName}
	}
	if spec.Insecure == nil {
		spec.Insecure = ptr.To(true)
	}
	if spec.SecretRef != nil && spec.SecretRef.Namespace == "" {
		spec.SecretRef.Namespace = DefaultSecretNamespace
	}
}
