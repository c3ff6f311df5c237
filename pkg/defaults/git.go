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
//   - branch absent becomes main; an explicit "" is kept, as the API server keeps it
//     (Kratix then clones the remote's default branch);
//   - authMethod absent becomes basicAuth;
//   - gitAuthor absent becomes name kratix: the CRD defaults the whole object, so a
//     gitAuthor without a name keeps its empty name, which validation reports;
//   - an empty secretRef.namespace becomes "default", whatever the auth method.
//
// insecure has no default (Kratix #943 gives it none: unset skips TLS verification, see
// TLSVerificationDisabled). A missing secretRef is left missing: validation reports it.
func GitSpec(spec *v1alpha1.GitStateStoreSpec) {
	if spec.Branch == nil {
		spec.Branch = ptr.To(DefaultGitBranch)
	}
	if spec.AuthMethod == "" {
		spec.AuthMethod = v1alpha1.GitAuthMethodBasicAuth
	}
	if spec.GitAuthor == nil {
		spec.GitAuthor = &v1alpha1.GitAuthor{Name: DefaultGitAuthorName}
	}
	if spec.SecretRef != nil && spec.SecretRef.Namespace == "" {
		spec.SecretRef.Namespace = DefaultSecretNamespace
	}
}
