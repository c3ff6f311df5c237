package admission

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

var bucketStateStoreKind = v1alpha1.GroupVersion.WithKind("BucketStateStore").GroupKind()

// EvaluateBucketStore runs the pipeline on a BucketStateStore as user applies it. obj is
// not modified.
func (p *Pipeline) EvaluateBucketStore(ctx context.Context, user authenticationv1.UserInfo, obj *v1alpha1.BucketStateStore) *Outcome {
	var pr prober[probe.Target]
	if p.Prober != nil {
		pr = p.Prober
	}
	return evaluate(ctx, p, pr, user, newBucketStore(obj))
}

// bucketStore is the storeKind of a BucketStateStore.
type bucketStore struct {
	name string
	spec *v1alpha1.BucketStateStoreSpec
}

var _ storeKind[probe.Target] = bucketStore{}

// newBucketStore holds a copy of obj's spec, which setDefaults changes.
func newBucketStore(obj *v1alpha1.BucketStateStore) bucketStore {
	return bucketStore{name: obj.Name, spec: obj.Spec.DeepCopy()}
}

func (s bucketStore) object() (schema.GroupKind, string) { return bucketStateStoreKind, s.name }

func (s bucketStore) setDefaults() { defaults.Spec(s.spec) }

func (s bucketStore) validate(specPath *field.Path) (field.ErrorList, []string) {
	return validateSpec(s.spec, specPath)
}

func (s bucketStore) secretRef() *corev1.SecretReference {
	if s.spec.AuthMethod != v1alpha1.AuthMethodAccessKey {
		return nil
	}
	return s.spec.SecretRef
}

// bucketSecretKeys are the keys Kratix reads from an accessKey store's Secret.
var bucketSecretKeys = []string{v1alpha1.SecretKeyAccessKeyID, v1alpha1.SecretKeySecretAccessKey}

func (bucketStore) validateSecret(secret *corev1.Secret, shown string, fldPath *field.Path) (field.ErrorList, []string) {
	return validateSecretKeys(secret, bucketSecretKeys, shown, fldPath), nil
}

func (s bucketStore) target(secret *corev1.Secret) probe.Target {
	var creds *probe.Credentials
	if secret != nil {
		creds = credentialsOf(secret)
	}
	return probe.Target{
		Endpoint:     s.spec.Endpoint,
		Bucket:       s.spec.BucketName,
		Path:         s.spec.Path,
		Insecure:     *s.spec.Insecure,
		UseDualStack: s.spec.UseDualStack,
		AuthMethod:   s.spec.AuthMethod,
		Credentials:  creds,
	}
}

func (s bucketStore) logValues() []any {
	return []any{"endpoint", s.spec.Endpoint, "bucket", s.spec.BucketName}
}

// probeError puts a failed probe on the field the user would change to fix it: the
// field of the part of the target its reason is about (probe.ReasonTable).
func (s bucketStore) probeError(specPath *field.Path, failure *probe.Failure) *field.Error {
	spec, message := s.spec, probeMessage(failure)
	switch part := probe.Info(failure.Reason).Part; {
	case part == probe.PartBucket:
		return field.Invalid(specPath.Child("bucketName"), spec.BucketName, message)
	case part == probe.PartInsecure:
		return field.Invalid(specPath.Child("insecure"), *spec.Insecure, message)
	case part == probe.PartAuthMethod, part == probe.PartCredentials && spec.AuthMethod == v1alpha1.AuthMethodIAM:
		// An IAM store's credentials are the webhook's own identity: the field to change
		// is the auth method.
		return field.Invalid(specPath.Child("authMethod"), spec.AuthMethod, message)
	case part == probe.PartCredentials:
		return field.Invalid(specPath.Child("secretRef"), secretName(spec.SecretRef), message)
	}
	return field.Invalid(specPath.Child("endpoint"), spec.Endpoint, message)
}

// probeMessage is the message of a denial for failure. The endpoint guard's denies a
// store Kratix could use, and says so.
func probeMessage(failure *probe.Failure) string {
	if failure.Reason == probe.ReasonEndpointForbidden {
		return fmt.Sprintf("%s; %s (reason: %s)", failure.Message, messageGuardRule, failure.Reason)
	}
	return failure.Error()
}

// messageGuardRule ends the denial of an endpoint the guard refuses. It is one of the four
// denials that are security rules, not stores Kratix cannot use (docs/reference.md#rules):
// this one, the Secret access review's, and, when an operator sets them,
// --secret-namespaces and --iam-untrusted-endpoints=deny. Kratix could reach the address,
// but no store may point there, and the message says so.
const messageGuardRule = "this is the webhook's endpoint guard, a security rule, not a store Kratix cannot use"

// credentialsOf are the credentials a Secret holds under the keys Kratix reads.
func credentialsOf(secret *corev1.Secret) *probe.Credentials {
	return &probe.Credentials{
		AccessKeyID:     string(secret.Data[v1alpha1.SecretKeyAccessKeyID]),
		SecretAccessKey: string(secret.Data[v1alpha1.SecretKeySecretAccessKey]),
	}
}
