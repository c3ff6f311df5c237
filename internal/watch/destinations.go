package watch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/pkg/admission"
)

// DestinationGVK is Kratix's Destination. The webhook reads only its name and
// spec.stateStoreRef, so it needs no Go type of its own.
var DestinationGVK = schema.GroupVersionKind{Group: "platform.kratix.io", Version: "v1alpha1", Kind: "Destination"}

// destinationResource is the Destination's resource name, as discovery lists it.
const destinationResource = "destinations"

// storeRefIndex indexes Destinations by the store their stateStoreRef names, as
// storeKey spells it.
const storeRefIndex = "stateStoreRef"

// storeKey is the index's key for the store of kind and name.
func storeKey(kind, name string) string { return kind + "/" + name }

// Destinations is a cache of Kratix Destinations indexed by the store (a
// BucketStateStore or a GitStateStore) they write to. The Destination CRD may be installed after the webhook starts, or not at
// all: Destinations asks discovery for it every Interval and keeps a cache only while it
// is there.
type Destinations struct {
	cfg       *rest.Config
	discovery discovery.DiscoveryInterface
	interval  time.Duration
	log       logr.Logger

	mu    sync.RWMutex
	cache cache.Cache // nil while the CRD is absent or the cache is not in sync
}

var _ admission.DestinationIndex = &Destinations{}

// NewDestinations returns a Destinations that looks for the Destination CRD every
// interval, logging to log.
func NewDestinations(cfg *rest.Config, interval time.Duration, log logr.Logger) (*Destinations, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the discovery client: %w", err)
	}
	return &Destinations{cfg: cfg, discovery: dc, interval: interval, log: log}, nil
}

// Start looks for the Destination CRD until ctx ends, and starts a cache of
// Destinations when it appears and stops it when it goes. It says once in the log that
// the delete guard is off while the CRD is absent, and again whenever that changes.
func (d *Destinations) Start(ctx context.Context) error {
	var stop context.CancelFunc // of the running cache; nil when there is none
	saidAbsent := false
	ticker := time.NewTicker(d.interval)
	defer ticker.Stop()
	for {
		installed, err := d.crdInstalled()
		switch {
		case err != nil:
			d.log.Error(err, "cannot tell whether the Destination CRD is installed; asking again later")
		case installed && stop == nil:
			d.log.Info("the Destination CRD is installed: the delete guard watches Destinations")
			stop = d.startCache(ctx)
			saidAbsent = false
		case !installed && stop != nil:
			stop()
			stop = nil
			d.setCache(nil)
			fallthrough
		case !installed && !saidAbsent:
			d.log.Info("the Destination CRD (destinations.platform.kratix.io) is not installed: the delete guard is off until it is", "checkEvery", d.interval.String())
			saidAbsent = true
		}
		select {
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			return nil
		case <-ticker.C:
		}
	}
}

// crdInstalled asks discovery whether the API server serves Destinations.
func (d *Destinations) crdInstalled() (bool, error) {
	resources, err := d.discovery.ServerResourcesForGroupVersion(DestinationGVK.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == destinationResource }), nil
}

// startCache starts a cache of Destinations and returns what stops it, or nil when it
// could not. The cache answers once it is in sync.
func (d *Destinations) startCache(ctx context.Context) context.CancelFunc {
	ctx, cancel := context.WithCancel(ctx)
	c, err := cache.New(d.cfg, cache.Options{
		Scheme:                      runtime.NewScheme(),
		DefaultTransform:            keepStoreRef,
		ReaderFailOnMissingInformer: true,
	})
	if err == nil {
		err = c.IndexField(ctx, newDestination(), storeRefIndex, storeOfDestination)
	}
	if err != nil {
		cancel()
		d.log.Error(err, "cannot create the cache of Destinations; the delete guard stays off and the webhook tries again", "retryIn", d.interval.String())
		return nil
	}
	go func() {
		if err := c.Start(ctx); err != nil {
			d.log.Error(err, "the cache of Destinations stopped")
		}
	}()
	go func() {
		if c.WaitForCacheSync(ctx) {
			d.setCache(c)
			d.log.Info("the cache of Destinations is in sync: the delete guard is on")
		}
	}()
	return cancel
}

func (d *Destinations) setCache(c cache.Cache) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cache = c
}

func newDestination() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(DestinationGVK)
	return u
}

// keepStoreRef keeps of a Destination only what the guard reads, so that the cache
// stays small whatever else Destinations hold.
func keepStoreRef(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	kept := newDestination()
	kept.SetName(u.GetName())
	kept.SetResourceVersion(u.GetResourceVersion())
	kept.SetUID(u.GetUID())
	if ref, found, _ := unstructured.NestedMap(u.Object, "spec", "stateStoreRef"); found {
		_ = unstructured.SetNestedMap(kept.Object, ref, "spec", "stateStoreRef")
	}
	return kept, nil
}

// storeOfDestination is the index function: the store a Destination writes to, of one
// of the kinds the webhook admits.
func storeOfDestination(obj client.Object) []string {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "stateStoreRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "stateStoreRef", "name")
	if !slices.Contains(admission.StoreKinds, schema.GroupKind{Group: DestinationGVK.Group, Kind: kind}) || name == "" {
		return nil
	}
	return []string{storeKey(kind, name)}
}

// DestinationsUsing implements admission.DestinationIndex.
func (d *Destinations) DestinationsUsing(ctx context.Context, kind, store string) ([]string, bool, error) {
	d.mu.RLock()
	c := d.cache
	d.mu.RUnlock()
	if c == nil {
		return nil, false, nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(DestinationGVK.GroupVersion().WithKind("DestinationList"))
	if err := c.List(ctx, list, client.MatchingFields{storeRefIndex: storeKey(kind, store)}); err != nil {
		return nil, true, err
	}
	names := make([]string, len(list.Items))
	for i := range list.Items {
		names[i] = list.Items[i].GetName()
	}
	slices.Sort(names)
	return names, true, nil
}
