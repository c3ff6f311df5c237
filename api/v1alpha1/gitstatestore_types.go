package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TLSVerificationDisabled reports whether Kratix skips TLS verification for the store,
// as Kratix #943's method of that name does: unset means skip.
func (s *GitStateStoreSpec) TLSVerificationDisabled() bool {
	return s.Insecure == nil || *s.Insecure
}

// Git auth methods, as a GitStateStore's spec.authMethod spells them, and the keys Kratix
// reads from the Secret for each (util/git in Kratix).
const (
	GitAuthMethodBasicAuth = "basicAuth"
	GitAuthMethodSSH       = "ssh"
	GitAuthMethodGitHubApp = "githubApp"

	// SecretKeyUsername and SecretKeyPassword are basicAuth's keys.
	SecretKeyUsername = "username"
	SecretKeyPassword = "password"
	// SecretKeySSHPrivateKey and SecretKeyKnownHosts are ssh's keys.
	SecretKeySSHPrivateKey = "sshPrivateKey"
	SecretKeyKnownHosts    = "knownHosts"
	// SecretKeyAppID, SecretKeyInstallationID and SecretKeyPrivateKey are githubApp's keys.
	SecretKeyAppID          = "appID"
	SecretKeyInstallationID = "installationID"
	SecretKeyPrivateKey     = "privateKey"
)

// The fields, markers and descriptions below follow Kratix's v1alpha1 API so that the
// generated schema matches Kratix's CRD.

// GitStateStoreSpec defines the desired state of GitStateStore
type GitStateStoreSpec struct {
	// URL of the git repository.
	URL string `json:"url,omitempty"`

	StateStoreCoreFields `json:",inline"`

	// Branch of the git repository; default to main.
	// +kubebuilder:validation:Optional
	// +kubebuilder:default=main
	Branch *string `json:"branch,omitempty"` // Kratix has a string; a pointer tells absent (main) from an explicit "" (the remote's default branch), same schema

	// Authentication method used to access the StateStore.
	// Default to basicAuth; options are basicAuth, ssh, and githubApp.
	// +kubebuilder:validation:Enum=basicAuth;ssh;githubApp
	// +kubebuilder:default:=basicAuth
	AuthMethod string `json:"authMethod,omitempty"`
	// Git author name and email used to commit this git state store; name defaults to 'kratix'
	// +kubebuilder:default:={name: "kratix"}
	GitAuthor *GitAuthor `json:"gitAuthor,omitempty"` // Kratix has a struct; a pointer keeps an absent one absent, same schema

	// Skip TLS certificate verification of an HTTPS repository. Unset means skip, as
	// Kratix verified no certificate before the field existed. SSH connections verify
	// the server against the Secret's knownHosts whatever it says.
	// +kubebuilder:validation:Optional
	Insecure *bool `json:"insecure,omitempty"` // as Kratix #943 has it: a pointer without a default
}

// GitAuthor defines the author identity used for commits to the Git StateStore
type GitAuthor struct {
	// Name of the Git commit author
	Name string `json:"name,omitempty"`
	// Email of the Git commit author
	Email string `json:"email,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,path=gitstatestores,categories=kratix
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`,description="URL of the git repository"
// +kubebuilder:printcolumn:name="Branch",type=string,JSONPath=`.spec.branch`,description="Branch of the git repository"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Indicates the state store is ready to use"

// GitStateStore is the Schema for the gitstatestores API
type GitStateStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GitStateStoreSpec `json:"spec,omitempty"`
	Status StateStoreStatus  `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// GitStateStoreList contains a list of GitStateStore
type GitStateStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitStateStore `json:"items"`
}
