package admission

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

var gitStateStoreKind = v1alpha1.GroupVersion.WithKind("GitStateStore").GroupKind()

// EvaluateGitStore runs the pipeline on a GitStateStore as user applies it, probing it
// with GitProber when that is set. obj is not modified.
func (p *Pipeline) EvaluateGitStore(ctx context.Context, user authenticationv1.UserInfo, obj *v1alpha1.GitStateStore) *Outcome {
	var pr prober[probe.GitTarget]
	if p.GitProber != nil {
		pr = p.GitProber
	}
	return evaluate(ctx, p, pr, user, newGitStore(obj))
}

// gitStore is the storeKind of a GitStateStore.
type gitStore struct {
	name string
	spec *v1alpha1.GitStateStoreSpec
}

var _ storeKind[probe.GitTarget] = gitStore{}

// newGitStore holds a copy of obj's spec, which setDefaults changes.
func newGitStore(obj *v1alpha1.GitStateStore) gitStore {
	return gitStore{name: obj.Name, spec: obj.Spec.DeepCopy()}
}

func (s gitStore) object() (schema.GroupKind, string) { return gitStateStoreKind, s.name }

func (s gitStore) setDefaults() { defaults.GitSpec(s.spec) }

func (s gitStore) validate(specPath *field.Path) (field.ErrorList, []string) {
	return validateGitSpec(s.spec, specPath)
}

// secretRef is the Secret of every Git store: each auth method reads one.
func (s gitStore) secretRef() *corev1.SecretReference { return s.spec.SecretRef }

func (s gitStore) validateSecret(secret *corev1.Secret, shown string, fldPath *field.Path) (field.ErrorList, []string) {
	return validateGitSecret(s.spec, secret, shown, fldPath)
}

func (s gitStore) target(secret *corev1.Secret) probe.GitTarget {
	var creds *probe.GitCredentials
	if secret != nil {
		creds = gitCredentialsOf(s.spec.AuthMethod, secret)
	}
	return probe.GitTarget{
		URL:         s.spec.URL,
		Branch:      ptr.Deref(s.spec.Branch, ""),
		Path:        s.spec.Path,
		Insecure:    s.spec.TLSVerificationDisabled(),
		AuthMethod:  s.spec.AuthMethod,
		Credentials: creds,
	}
}

func (s gitStore) logValues() []any {
	return []any{"url", s.spec.URL, "branch", ptr.Deref(s.spec.Branch, "")}
}

// probeError puts a failed probe on the field the user would change to fix it: the
// field of the part of the target its reason is about (probe.ReasonTable).
func (s gitStore) probeError(specPath *field.Path, failure *probe.Failure) *field.Error {
	spec, message := s.spec, probeMessage(failure)
	switch probe.Info(failure.Reason).Part {
	case probe.PartBranch:
		return field.Invalid(specPath.Child("branch"), ptr.Deref(spec.Branch, ""), message)
	case probe.PartInsecure:
		return field.Invalid(specPath.Child("insecure"), spec.TLSVerificationDisabled(), message)
	case probe.PartAuthMethod:
		return field.Invalid(specPath.Child("authMethod"), spec.AuthMethod, message)
	case probe.PartCredentials:
		return field.Invalid(specPath.Child("secretRef"), secretName(spec.SecretRef), message)
	}
	// PartEndpoint and PartRepository: the URL names both.
	return field.Invalid(specPath.Child("url"), spec.URL, message)
}

// gitCredentialsOf are the credentials a Secret holds under the keys Kratix reads for
// method.
func gitCredentialsOf(method string, secret *corev1.Secret) *probe.GitCredentials {
	d := secret.Data
	switch method {
	case v1alpha1.GitAuthMethodSSH:
		return &probe.GitCredentials{SSHPrivateKey: d[v1alpha1.SecretKeySSHPrivateKey], KnownHosts: d[v1alpha1.SecretKeyKnownHosts]}
	case v1alpha1.GitAuthMethodGitHubApp:
		return &probe.GitCredentials{AppID: string(d[v1alpha1.SecretKeyAppID]), InstallationID: string(d[v1alpha1.SecretKeyInstallationID]), PrivateKey: d[v1alpha1.SecretKeyPrivateKey]}
	}
	return &probe.GitCredentials{Username: string(d[v1alpha1.SecretKeyUsername]), Password: string(d[v1alpha1.SecretKeyPassword])}
}
