package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
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

// newReviewTemplate makes the AdmissionReview the API server would send for op on obj by
// user. A DELETE carries obj as the old object only.
func newReviewTemplate(op admissionv1.Operation, obj *v1alpha1.BucketStateStore, user authenticationv1.UserInfo) (reviewTemplate, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return reviewTemplate{}, err
	}
	gvk := metav1.GroupVersionKind{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Kind: "BucketStateStore"}
	gvr := metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: "bucketstatestores"}
	req := &admissionv1.AdmissionRequest{
		UID:             uidPlaceholder,
		Kind:            gvk,
		Resource:        gvr,
		RequestKind:     &gvk,
		RequestResource: &gvr,
		Name:            obj.Name,
		Operation:       op,
		UserInfo:        user,
		DryRun:          ptr.To(false),
		Options:         runtime.RawExtension{Raw: []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}`)},
	}
	if op == admissionv1.Delete {
		req.OldObject = runtime.RawExtension{Raw: raw}
		req.Options = runtime.RawExtension{Raw: []byte(`{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1"}`)}
	} else {
		req.Object = runtime.RawExtension{Raw: raw}
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Request:  req,
	})
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

// expect is the verdict a request must get.
type expect struct {
	allowed bool
	// message, when set, must be part of a denial's message.
	message string
}

var (
	expectAllowed = expect{allowed: true}
)

// checkReview checks an AdmissionReview response to the request with uid. An answer
// that cannot be read, or is for another request, is an error; a readable answer with
// the wrong verdict wraps errWrongVerdict.
func checkReview(body []byte, uid string, want expect) error {
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil {
		return fmt.Errorf("reading the AdmissionReview response: %w", err)
	}
	resp := ar.Response
	if resp == nil {
		return fmt.Errorf("the AdmissionReview has no response")
	}
	if string(resp.UID) != uid {
		return fmt.Errorf("%w: the response is for request %q, not %q", errWrongVerdict, resp.UID, uid)
	}
	msg := ""
	if resp.Result != nil {
		msg = resp.Result.Message
	}
	if resp.Allowed != want.allowed {
		return fmt.Errorf("%w: allowed=%t, want %t (message %q)", errWrongVerdict, resp.Allowed, want.allowed, msg)
	}
	if want.message != "" && !strings.Contains(msg, want.message) {
		return fmt.Errorf("%w: message %q does not contain %q", errWrongVerdict, msg, want.message)
	}
	return nil
}
