package watch

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

func store(authMethod string, ref *corev1.SecretReference) *v1alpha1.BucketStateStore {
	s := &v1alpha1.BucketStateStore{ObjectMeta: metav1.ObjectMeta{Name: "s"}}
	s.Spec.AuthMethod = authMethod
	s.Spec.SecretRef = ref
	return s
}

func TestSecretOfStore(t *testing.T) {
	cases := map[string]struct {
		obj  client.Object
		want []string
	}{
		"an accessKey store is indexed by its Secret":                    {obj: store(v1alpha1.AuthMethodAccessKey, &corev1.SecretReference{Namespace: "creds", Name: "minio"}), want: []string{"creds/minio"}},
		"a store without authMethod is an accessKey store, as defaulted": {obj: store("", &corev1.SecretReference{Namespace: "creds", Name: "minio"}), want: []string{"creds/minio"}},
		"a Secret without namespace is in default, as Kratix reads it":   {obj: store(v1alpha1.AuthMethodAccessKey, &corev1.SecretReference{Name: "minio"}), want: []string{"default/minio"}},
		"an IAM store reads no Secret":                                   {obj: store(v1alpha1.AuthMethodIAM, &corev1.SecretReference{Name: "minio"})},
		"a store without a secretRef reads none":                         {obj: store(v1alpha1.AuthMethodAccessKey, nil)},
		"a secretRef without a name reads none":                          {obj: store(v1alpha1.AuthMethodAccessKey, &corev1.SecretReference{Namespace: "creds"})},
		"another kind of object is not indexed":                          {obj: &corev1.Secret{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := secretOfStore(c.obj); !reflect.DeepEqual(got, c.want) {
				t.Errorf("secretOfStore = %q, want %q", got, c.want)
			}
		})
	}
}

func TestSecretOfStoreLeavesTheStoreAsItWas(t *testing.T) {
	s := store("", &corev1.SecretReference{Name: "minio"})
	secretOfStore(s)
	if s.Spec.AuthMethod != "" || s.Spec.SecretRef.Namespace != "" {
		t.Errorf("secretOfStore defaulted the cached object itself: %+v", s.Spec)
	}
}

func destination(ref map[string]any) *unstructured.Unstructured {
	u := newDestination()
	u.SetName("worker-1")
	u.SetResourceVersion("7")
	if ref != nil {
		_ = unstructured.SetNestedMap(u.Object, ref, "spec", "stateStoreRef")
	}
	_ = unstructured.SetNestedField(u.Object, "large", "spec", "filepathMode")
	return u
}

func TestStoreOfDestination(t *testing.T) {
	cases := map[string]struct {
		obj  client.Object
		want []string
	}{
		"a Destination is indexed by the BucketStateStore it writes to": {obj: destination(map[string]any{"kind": "BucketStateStore", "name": "prod"}), want: []string{"BucketStateStore/prod"}},
		"a Destination is indexed by the GitStateStore it writes to":    {obj: destination(map[string]any{"kind": "GitStateStore", "name": "prod"}), want: []string{"GitStateStore/prod"}},
		"a Destination writing to another kind is not":                  {obj: destination(map[string]any{"kind": "S3StateStore", "name": "prod"})},
		"a Destination without a store name is not":                     {obj: destination(map[string]any{"kind": "BucketStateStore"})},
		"a Destination without stateStoreRef is not":                    {obj: destination(nil)},
		"another kind of object is not indexed":                         {obj: &corev1.Secret{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := storeOfDestination(c.obj); !reflect.DeepEqual(got, c.want) {
				t.Errorf("storeOfDestination = %q, want %q", got, c.want)
			}
		})
	}
}

func TestKeepStoreRefKeepsOnlyWhatTheGuardReads(t *testing.T) {
	got, err := keepStoreRef(destination(map[string]any{"kind": "BucketStateStore", "name": "prod"}))
	if err != nil {
		t.Fatal(err)
	}
	kept := got.(*unstructured.Unstructured)
	want := destination(map[string]any{"kind": "BucketStateStore", "name": "prod"})
	unstructured.RemoveNestedField(want.Object, "spec", "filepathMode")
	unstructured.RemoveNestedField(want.Object, "metadata", "creationTimestamp")
	if !reflect.DeepEqual(kept.Object, want.Object) {
		t.Errorf("keepStoreRef kept %v, want %v", kept.Object, want.Object)
	}
	if storeOfDestination(kept)[0] != "BucketStateStore/prod" {
		t.Error("what keepStoreRef keeps no longer indexes")
	}
}

func TestIndexesAreNotInSyncBeforeTheyStart(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	stores := NewStores(cfg, logr.Discard())
	if got, synced, err := stores.StoresUsingSecret(context.Background(), "default", "minio"); synced || err != nil || got != nil {
		t.Errorf("StoresUsingSecret before Start = %v, %v, %v; want nothing, not in sync", got, synced, err)
	}
	destinations, err := NewDestinations(cfg, time.Minute, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if got, synced, err := destinations.DestinationsUsing(context.Background(), "BucketStateStore", "prod"); synced || err != nil || got != nil {
		t.Errorf("DestinationsUsing before Start = %v, %v, %v; want nothing, not in sync", got, synced, err)
	}
}
