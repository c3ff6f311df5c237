package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes"
)

// SecretGetter reads one Secret. The webhook only ever gets Secrets by name: its RBAC
// allows get, never list or watch.
type SecretGetter interface {
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// AccessReviewer answers whether a user may get a Secret, so that the webhook never reads
// a Secret for someone who could not read it themselves.
type AccessReviewer interface {
	CanGetSecret(ctx context.Context, user authenticationv1.UserInfo, namespace, name string) (bool, error)
}

// KubeSecrets reads Secrets and reviews access with a Kubernetes clientset. Use it by
// pointer.
type KubeSecrets struct {
	Client kubernetes.Interface

	// reads merges identical reads of one Secret, as in a GitOps burst of stores that
	// name the same Secret, but only into a read sent after each caller asked: a store
	// applied just after its Secret was changed is checked against the change. Nothing is
	// kept once the answer is in.
	reads freshReads[*corev1.Secret]
}

// GetSecret reads a Secret. The Secret returned may be shared with other callers: do
// not modify it.
func (k *KubeSecrets) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return k.reads.do(ctx, namespace+"/"+name, func(ctx context.Context) (*corev1.Secret, error) {
		// ctx is not cancelled with the first caller, whose answer the others share; the
		// client's timeout bounds the read.
		return k.Client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	})
}

// CanGetSecret asks the API server, with a SubjectAccessReview, whether user may get the
// Secret.
func (k *KubeSecrets) CanGetSecret(ctx context.Context, user authenticationv1.UserInfo, namespace, name string) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for key, values := range user.Extra {
		extra[key] = authorizationv1.ExtraValue(values)
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user.Username,
		Groups: user.Groups,
		UID:    user.UID,
		Extra:  extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace,
			Verb:      "get",
			Resource:  "secrets",
			Name:      name,
		},
	}}
	got, err := k.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return got.Status.Allowed, nil
}

// secretName is how answers name a Secret: namespace/name.
func secretName(ref *corev1.SecretReference) string {
	return ref.Namespace + "/" + ref.Name
}

// validateSecretNamespace refuses a Secret namespace outside allowed, when allowed is set
// (--secret-namespaces): the webhook's RBAC lets it read Secrets only there.
func validateSecretNamespace(namespace string, allowed []string, fldPath *field.Path) field.ErrorList {
	if len(allowed) == 0 || slices.Contains(allowed, namespace) {
		return nil
	}
	return field.ErrorList{field.Forbidden(fldPath, fmt.Sprintf("the webhook reads Secrets only in namespaces %s; put the Secret in one of them", strings.Join(allowed, ", ")))}
}
