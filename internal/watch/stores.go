package watch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/admission"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/defaults"
)

// secretRefIndex indexes accessKey stores by the namespace/name of their defaulted
// secretRef.
const secretRefIndex = "secretRef"

// Stores is a cache of BucketStateStores indexed by the Secret they name.
type Stores struct {
	cache  cache.Cache
	synced atomic.Bool
}

var _ admission.StoreIndex = &Stores{}

// NewStores returns a cache of BucketStateStores; it fills once started.
func NewStores(cfg *rest.Config) (*Stores, error) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme:                      scheme,
		DefaultTransform:            cache.TransformStripManagedFields(),
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the cache of BucketStateStores: %w", err)
	}
	// Indexing before the start creates the informer, so Start watches the stores.
	if err := c.IndexField(context.Background(), &v1alpha1.BucketStateStore{}, secretRefIndex, secretOfStore); err != nil {
		return nil, err
	}
	return &Stores{cache: c}, nil
}

// secretOfStore is the index function: the Secret an accessKey store reads, as Kratix
// reads it (secretRef.namespace defaults to "default").
func secretOfStore(obj client.Object) []string {
	store, ok := obj.(*v1alpha1.BucketStateStore)
	if !ok {
		return nil
	}
	spec := store.Spec.DeepCopy()
	defaults.Spec(spec)
	if spec.AuthMethod != v1alpha1.AuthMethodAccessKey || spec.SecretRef == nil || spec.SecretRef.Name == "" {
		return nil
	}
	return []string{spec.SecretRef.Namespace + "/" + spec.SecretRef.Name}
}

// Start fills the cache and keeps it up to date until ctx ends.
func (s *Stores) Start(ctx context.Context) error {
	go func() {
		if s.cache.WaitForCacheSync(ctx) {
			s.synced.Store(true)
		}
	}()
	return s.cache.Start(ctx)
}

// StoresUsingSecret implements admission.StoreIndex.
func (s *Stores) StoresUsingSecret(ctx context.Context, namespace, name string) ([]v1alpha1.BucketStateStore, bool, error) {
	if !s.synced.Load() {
		return nil, false, nil
	}
	var list v1alpha1.BucketStateStoreList
	if err := s.cache.List(ctx, &list, client.MatchingFields{secretRefIndex: namespace + "/" + name}); err != nil {
		return nil, true, err
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.BucketStateStore) int { return strings.Compare(a.Name, b.Name) })
	return list.Items, true, nil
}
