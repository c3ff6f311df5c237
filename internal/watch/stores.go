package watch

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
)

// secretRefIndex indexes accessKey BucketStateStores and every GitStateStore by the
// namespace/name of their defaulted secretRef.
const secretRefIndex = "secretRef"

// storesRetry is how long Stores waits before trying again to watch BucketStateStores
// when the API server could not be asked (it is down, or the CRD is not installed).
const storesRetry = 10 * time.Second

// Stores is a cache of BucketStateStores and GitStateStores indexed by the Secret they
// name.
type Stores struct {
	cfg *rest.Config
	log logr.Logger

	mu    sync.RWMutex
	cache cache.Cache // nil until it is in sync
}

var _ admission.StoreIndex = &Stores{}

// NewStores returns a cache of BucketStateStores, logging to log; it fills once
// started.
func NewStores(cfg *rest.Config, log logr.Logger) *Stores {
	return &Stores{cfg: cfg, log: log}
}

// Start fills the cache and keeps it up to date until ctx ends. Until it can, it tries
// again every storesRetry; the webhook serves meanwhile, and the Secret guard lets every
// change through.
func (s *Stores) Start(ctx context.Context) error {
	for {
		c, err := s.newCache(ctx)
		if err == nil {
			go func() {
				if c.WaitForCacheSync(ctx) {
					s.mu.Lock()
					s.cache = c
					s.mu.Unlock()
					s.log.Info("the cache of state stores is in sync: the Secret guard is on")
				}
			}()
			return c.Start(ctx)
		}
		s.log.Error(err, "cannot watch the state stores yet; the Secret guard lets every change through until it can", "retryIn", storesRetry.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(storesRetry):
		}
	}
}

// newCache creates the cache and its index, which asks the API server about the
// BucketStateStore kind.
func (s *Stores) newCache(ctx context.Context) (cache.Cache, error) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := cache.New(s.cfg, cache.Options{
		Scheme:                      scheme,
		DefaultTransform:            cache.TransformStripManagedFields(),
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return nil, err
	}
	// Indexing before the start creates the informers, so Start watches the stores.
	if err := c.IndexField(ctx, &v1alpha1.BucketStateStore{}, secretRefIndex, secretOfStore); err != nil {
		return nil, err
	}
	if err := c.IndexField(ctx, &v1alpha1.GitStateStore{}, secretRefIndex, secretOfGitStore); err != nil {
		return nil, err
	}
	return c, nil
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

// secretOfGitStore is the index function of GitStateStores: the Secret every auth method
// reads, as Kratix's GetSecretRef names it.
func secretOfGitStore(obj client.Object) []string {
	store, ok := obj.(*v1alpha1.GitStateStore)
	if !ok || store.Spec.SecretRef == nil || store.Spec.SecretRef.Name == "" {
		return nil
	}
	spec := store.Spec.DeepCopy()
	defaults.GitSpec(spec)
	return []string{spec.SecretRef.Namespace + "/" + spec.SecretRef.Name}
}

// GitStoresUsingSecret implements admission.StoreIndex.
func (s *Stores) GitStoresUsingSecret(ctx context.Context, namespace, name string) ([]v1alpha1.GitStateStore, bool, error) {
	var list v1alpha1.GitStateStoreList
	if known, err := s.list(ctx, &list, namespace, name); !known || err != nil {
		return nil, known, err
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.GitStateStore) int { return strings.Compare(a.Name, b.Name) })
	return list.Items, true, nil
}

// StoresUsingSecret implements admission.StoreIndex.
func (s *Stores) StoresUsingSecret(ctx context.Context, namespace, name string) ([]v1alpha1.BucketStateStore, bool, error) {
	var list v1alpha1.BucketStateStoreList
	if known, err := s.list(ctx, &list, namespace, name); !known || err != nil {
		return nil, known, err
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.BucketStateStore) int { return strings.Compare(a.Name, b.Name) })
	return list.Items, true, nil
}

// list fills list with the stores that name the Secret namespace/name; known is false
// while the cache is not in sync.
func (s *Stores) list(ctx context.Context, list client.ObjectList, namespace, name string) (known bool, err error) {
	s.mu.RLock()
	c := s.cache
	s.mu.RUnlock()
	if c == nil {
		return false, nil
	}
	return true, c.List(ctx, list, client.MatchingFields{secretRefIndex: namespace + "/" + name})
}
