package admission

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/internal/text"
)

// AllowDeleteAnnotation on a store, set to "true", lets the delete guard pass
// a deletion of the store whatever Destinations still name it: the escape hatch for a
// deliberate teardown.
const AllowDeleteAnnotation = "statestore-webhook.kratix-community.io/allow-delete"

// messageStoreInUse is the delete guard's message: the store's kind and name, how many
// Destinations use it and their names (listNames). It spells AllowDeleteAnnotation out, so
// that the docs' check finds it in one literal.
const messageStoreInUse = "%s %q is the state store of %d Destination(s): %s; delete them or point their spec.stateStoreRef at another store first, or annotate the store statestore-webhook.kratix-community.io/allow-delete=true"

// DestinationIndex tells which Kratix Destinations write to a store.
type DestinationIndex interface {
	// DestinationsUsing returns the names of the Destinations whose spec.stateStoreRef
	// names the store of kind (BucketStateStore or GitStateStore) and name store, sorted.
	// known is false when it cannot tell: the Destination CRD is not installed, or the
	// cache of Destinations is not in sync yet.
	DestinationsUsing(ctx context.Context, kind, store string) (names []string, known bool, err error)
}

// DeleteGuard is the validating webhook that refuses to delete a store of one of the
// StoreKinds that Destinations still write to (Kratix's own issue #430). Its webhook configuration
// fails open and sends it only DELETEs.
type DeleteGuard struct {
	// Destinations tells which Destinations use a store.
	Destinations DestinationIndex
	// Mode says what the guard does with a store in use.
	Mode GuardMode
}

var _ ctrladmission.Handler = &DeleteGuard{}

// Handle answers a DELETE of a store; every other operation is allowed.
func (g *DeleteGuard) Handle(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
	return runGuard(ctx, req, "deleteguard", g.Mode, g.check, admissionv1.Delete)
}

// check answers a DELETE of a store while the guard is on.
func (g *DeleteGuard) check(ctx context.Context, req ctrladmission.Request, note auditNote) ctrladmission.Response {
	gk := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	if !slices.Contains(StoreKinds, gk) {
		return ctrladmission.Errored(http.StatusBadRequest, fmt.Errorf("this webhook guards %s and %s, not %s", bucketStateStoreKind, gitStateStoreKind, req.Kind.String()))
	}
	// Only the name and annotations are read, whatever the kind.
	store, err := decodeKind[metav1.PartialObjectMetadata](req.AdmissionRequest, req.OldObject.Raw, gk)
	if err != nil {
		return ctrladmission.Errored(http.StatusBadRequest, err)
	}
	if store.Annotations[AllowDeleteAnnotation] == "true" {
		note[AuditGuard] = GuardFindingAllowDelete
		return ctrladmission.Allowed("")
	}
	names, known, err := g.Destinations.DestinationsUsing(ctx, gk.Kind, store.Name)
	if err != nil {
		logf.FromContext(ctx).Error(err, "cannot list the Destinations from the cache")
		return ctrladmission.Errored(http.StatusInternalServerError, errors.New("cannot tell which Destinations use the store"))
	}
	if !note.inUse(known, len(names)) {
		return ctrladmission.Allowed("")
	}
	note[AuditGuard] = GuardFindingBreaks
	message := fmt.Sprintf(messageStoreInUse, gk.Kind, text.Cut(store.Name, text.MaxLabel), len(names), listNames(names))
	resource := schema.GroupResource{Group: gk.Group, Resource: strings.ToLower(gk.Kind) + "s"}
	return guardAnswer(g.Mode, resource, text.Cut(store.Name, text.MaxLabel), []string{message}, message)
}
