package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
)

// benchUser is the requester in the AdmissionReviews the harness sends itself. It is in
// system:masters, so the webhook's SubjectAccessReview allows it to read the Secret.
var benchUser = authenticationv1.UserInfo{
	Username: "bench-admin",
	Groups:   []string{"system:masters", "system:authenticated"},
}

// accessKeyStore is a store as the validating webhook sees it once the defaulting
// webhook has run: accessKey credentials from secret, TLS, every default explicit.
func accessKeyStore(name, endpoint, bucket, path string, secret types.NamespacedName) *v1alpha1.BucketStateStore {
	return &v1alpha1.BucketStateStore{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BucketStateStore"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.BucketStateStoreSpec{
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
				Path:      path,
				SecretRef: &corev1.SecretReference{Name: secret.Name, Namespace: secret.Namespace},
			},
			BucketName: bucket,
			Endpoint:   endpoint,
			Insecure:   ptr.To(false),
			AuthMethod: v1alpha1.AuthMethodAccessKey,
		},
	}
}

// basicAuthStore is a GitStateStore as the validating webhook sees it once the
// defaulting webhook has run: the repository localenv's Git servers serve at server
// (host:port) over HTTPS, verified, basicAuth credentials from secret, every default
// explicit.
func basicAuthStore(name, server, path string, secret types.NamespacedName) *v1alpha1.GitStateStore {
	return &v1alpha1.GitStateStore{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "GitStateStore"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.GitStateStoreSpec{
			URL: "https://" + server + "/" + localenv.GitRepository,
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
				Path:      path,
				SecretRef: &corev1.SecretReference{Name: secret.Name, Namespace: secret.Namespace},
			},
			Branch:     ptr.To(localenv.GitBranch),
			AuthMethod: v1alpha1.GitAuthMethodBasicAuth,
			GitAuthor:  &v1alpha1.GitAuthor{Name: defaults.DefaultGitAuthorName},
			Insecure:   ptr.To(false),
		},
	}
}

// iamStore is a store with authMethod IAM: the webhook reads no Secret for it.
func iamStore(name, endpoint, bucket, path string) *v1alpha1.BucketStateStore {
	s := accessKeyStore(name, endpoint, bucket, path, types.NamespacedName{})
	s.Spec.SecretRef = nil
	s.Spec.AuthMethod = v1alpha1.AuthMethodIAM
	return s
}

// uidPlaceholder stands for the request UID in a reviewTemplate.
const uidPlaceholder = "BENCH-UID-PLACEHOLDER"

// reviewTemplate is an AdmissionReview marshalled once, with the UID left out, so a load
// generator can make thousands of distinct requests a second without marshalling each.
type reviewTemplate struct {
	prefix, suffix []byte
}

// newReviewTemplate makes the AdmissionReview the API server would send for op on obj, a
// store of the kind its TypeMeta names, by user. A DELETE carries obj as the old object
// only.
func newReviewTemplate(op admissionv1.Operation, obj client.Object, user authenticationv1.UserInfo) (reviewTemplate, error) {
	object, err := json.Marshal(obj)
	if err != nil {
		return reviewTemplate{}, err
	}
	r := testkit.Review{Kind: obj.GetObjectKind().GroupVersionKind().Kind, UID: uidPlaceholder, Operation: op, User: user, Object: object}
	if op == admissionv1.Delete {
		r.Object, r.OldObject = nil, r.Object
	}
	b, err := r.JSON()
	if err != nil {
		return reviewTemplate{}, err
	}
	before, after, ok := bytes.Cut(b, []byte(uidPlaceholder))
	if !ok {
		return reviewTemplate{}, fmt.Errorf("the UID placeholder is missing from the marshalled review")
	}
	return reviewTemplate{prefix: before, suffix: after}, nil
}

// body is the review with uid filled in.
func (t reviewTemplate) body(uid string) []byte {
	b := make([]byte, 0, len(t.prefix)+len(uid)+len(t.suffix))
	b = append(b, t.prefix...)
	b = append(b, uid...)
	return append(b, t.suffix...)
}

var uidCounter atomic.Uint64

// nextUID returns a request UID no other request of this run has.
func nextUID() string {
	return "bench-" + strconv.FormatUint(uidCounter.Add(1), 10)
}
