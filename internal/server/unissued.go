package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// UnissuedGrace is how old a webhook configuration must be before the webhook deletes it
// for want of a Certificate. kubectl, Helm and GitOps tools create a release's objects
// within seconds of each other, so a configuration this old with no Certificate beside it
// came from an apply that could not create the Certificate, not from one still running.
const UnissuedGrace = 30 * time.Second

// UnissuedInterval is how often the webhook looks again while it has no certificate.
const UnissuedInterval = 5 * time.Second

// UnattendedAfter is how long a Certificate may go without any status condition before
// the webhook takes it for one no cert-manager controller will ever issue. cert-manager
// writes Ready within seconds of a Certificate's creation; its chart keeps the CRDs when
// it is uninstalled, so a Certificate can be created with nothing to issue it.
const UnattendedAfter = 2 * time.Minute

// The resources Unissued reads: cert-manager's Certificate, and the two kinds of
// webhook configuration it may delete.
var (
	certificates             = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	validatingConfigurations = admissionregistrationv1.SchemeGroupVersion.WithResource("validatingwebhookconfigurations")
	mutatingConfigurations   = admissionregistrationv1.SchemeGroupVersion.WithResource("mutatingwebhookconfigurations")
)

// Unissued deletes this install's two fail-closed webhook configurations while the
// webhook has no serving certificate and can never get one: its files are not in the
// cert dir and the cert-manager Certificate that would issue them does not exist, or
// cert-manager is not installed. kubectl apply -f of the release file on a cluster
// without cert-manager creates every object but the Certificate and the Issuer; without
// this, the configurations it leaves would fail every store write with no pod to answer.
//
// It runs until the certificate's files exist, and deletes a configuration only once the
// Certificate has been missing for UnissuedGrace, and only if the configuration is as old
// and points at a Service in the Certificate's namespace. A Certificate that cert-manager
// has not given any status UnattendedAfter its creation counts as missing. It never
// creates a configuration: applying the release again, once cert-manager runs, does.
type Unissued struct {
	// CertFiles are the serving certificate and key the webhook server waits for.
	CertFiles []string
	// Certificate is the cert-manager Certificate that issues them; its namespace is the
	// webhook's.
	Certificate types.NamespacedName
	// Validating and Mutating name the install's webhook configurations.
	Validating, Mutating string

	// Discovery tells whether cert-manager is installed; Dynamic reads and deletes.
	Discovery discovery.DiscoveryInterface
	Dynamic   dynamic.Interface
	Log       logr.Logger

	said         map[string]bool // what first has seen
	missingSince time.Time       // when the Certificate was first seen missing; zero while it exists
}

// NeedLeaderElection is false: every replica without a certificate looks, so that the
// configurations go even if leader election is turned on.
func (u *Unissued) NeedLeaderElection() bool { return false }

// Start looks every UnissuedInterval until the certificate's files exist or ctx is done.
func (u *Unissued) Start(ctx context.Context) error {
	tick := time.NewTicker(UnissuedInterval)
	defer tick.Stop()
	for !filesExist(u.CertFiles) {
		u.Check(ctx, time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// Check looks once, at now. Once the Certificate has been missing for UnissuedGrace (a
// moment of it, as in an upgrade that creates it last, is not enough), it deletes each
// configuration that is as old and points into the webhook's namespace.
func (u *Unissued) Check(ctx context.Context, now time.Time) {
	missing, why, fix, err := u.certificateMissing(ctx, now)
	if err != nil {
		if u.first("certificate: " + err.Error()) {
			u.Log.Error(err, "cannot tell whether the serving certificate will be issued; the webhook configurations are kept", "certificate", u.Certificate.String())
		}
		return
	}
	if !missing {
		u.missingSince = time.Time{}
		u.waiting(why)
		return
	}
	if u.missingSince.IsZero() {
		u.missingSince = now
	}
	if deleteAt := u.missingSince.Add(UnissuedGrace); now.Before(deleteAt) {
		u.waiting(fmt.Sprintf("%s (seen at %s); the webhook configurations are deleted at %s if that lasts",
			why, u.missingSince.UTC().Format(time.RFC3339), deleteAt.UTC().Format(time.RFC3339)))
		return
	}
	for _, c := range []struct {
		resource schema.GroupVersionResource
		name     string
	}{{validatingConfigurations, u.Validating}, {mutatingConfigurations, u.Mutating}} {
		if err := u.remove(ctx, now, why, fix, c.resource, c.name); err != nil && u.first(c.name+": "+err.Error()) {
			u.Log.Error(err, "deleting a webhook configuration the webhook cannot serve", "resource", c.resource.Resource, "name", c.name)
		}
	}
}

// certificateMissing reports whether the Certificate is missing (or unattended: no
// status UnattendedAfter its creation), why either way, and when it is, what brings it
// back.
func (u *Unissued) certificateMissing(ctx context.Context, now time.Time) (missing bool, why, fix string, err error) {
	ctx, cancel := context.WithTimeout(ctx, KubeTimeout)
	defer cancel()
	cert, err := u.Dynamic.Resource(certificates).Namespace(u.Certificate.Namespace).Get(ctx, u.Certificate.Name, metav1.GetOptions{})
	if err == nil {
		conditions, _, _ := unstructured.NestedSlice(cert.Object, "status", "conditions")
		if len(conditions) == 0 && now.Sub(cert.GetCreationTimestamp().Time) >= UnattendedAfter {
			return true, fmt.Sprintf("Certificate %s has had no status for more than %s: no cert-manager controller runs, though its CRDs are installed", u.Certificate, UnattendedAfter),
				"start cert-manager (install it again if it was uninstalled), then apply the release again", nil
		}
		return false, "Certificate " + u.Certificate.String() + " exists; " + readyMessage(cert), "", nil
	}
	if !apierrors.IsNotFound(err) {
		return false, "", "", err
	}
	// The same 404 answers a missing Certificate and a missing cert-manager.
	if _, err := u.Discovery.ServerResourcesForGroupVersion(certificates.GroupVersion().String()); apierrors.IsNotFound(err) {
		return true, "cert-manager is not installed (the API server serves no " + certificates.GroupVersion().String() + ")",
			"install cert-manager, then apply the release again", nil
	}
	return true, "Certificate " + u.Certificate.String() + " does not exist", "apply the release again: it creates the Certificate", nil
}

// waiting logs why the webhook waits, once for each reason (each is a stable sentence).
func (u *Unissued) waiting(why string) {
	if u.first(why) {
		u.Log.Info("waiting for the serving certificate", "files", u.CertFiles, "status", why)
	}
}

// first reports whether this is the first time Unissued has something to say, so that
// a state that lasts (a reason to wait, a refusal by RBAC) is logged once, not every
// UnissuedInterval.
func (u *Unissued) first(what string) bool {
	if u.said[what] {
		return false
	}
	if u.said == nil || len(u.said) > 100 {
		u.said = map[string]bool{}
	}
	u.said[what] = true
	return true
}

// readyMessage is the Certificate's Ready condition, as cert-manager writes it.
func readyMessage(cert *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(cert.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			return fmt.Sprintf("Ready=%v: %v", m["status"], m["message"])
		}
	}
	return "no Ready condition yet"
}

// remove deletes the configuration if it is old enough and calls a Service in the
// webhook's namespace.
func (u *Unissued) remove(ctx context.Context, now time.Time, why, fix string, resource schema.GroupVersionResource, name string) error {
	ctx, cancel := context.WithTimeout(ctx, KubeTimeout)
	defer cancel()
	configurations := u.Dynamic.Resource(resource)
	obj, err := configurations.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	kind := obj.GetKind()
	created := obj.GetCreationTimestamp().Time
	if now.Sub(created) < UnissuedGrace {
		u.waiting(fmt.Sprintf("%s; %s %s, created at %s, is deleted at %s if that lasts",
			why, kind, name, created.UTC().Format(time.RFC3339), created.Add(UnissuedGrace).UTC().Format(time.RFC3339)))
		return nil
	}
	if !pointsInto(obj, u.Certificate.Namespace) {
		u.waiting(fmt.Sprintf("%s; %s %s calls no Service in namespace %s, so it is not this install's and is kept", why, kind, name, u.Certificate.Namespace))
		return nil
	}
	if filesExist(u.CertFiles) {
		return nil // the certificate came while the webhook looked
	}
	uid := obj.GetUID()
	err = configurations.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone already, or replaced by a newer one, which gets its own grace.
		return nil
	}
	if err != nil {
		return err
	}
	u.Log.Error(errors.New(why), "deleted the fail-closed webhook configuration: with no serving certificate to come, every store write would fail with no webhook to answer it",
		"kind", kind, "name", name, "fix", fix)
	return nil
}

// pointsInto reports whether a webhook of the configuration calls a Service in namespace.
func pointsInto(configuration *unstructured.Unstructured, namespace string) bool {
	webhooks, _, _ := unstructured.NestedSlice(configuration.Object, "webhooks")
	for _, w := range webhooks {
		m, _ := w.(map[string]any)
		if ns, _, _ := unstructured.NestedString(m, "clientConfig", "service", "namespace"); ns == namespace {
			return true
		}
	}
	return false
}

// filesExist reports whether every file exists.
func filesExist(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// waitForFiles returns once every file exists, or with ctx's error.
func waitForFiles(ctx context.Context, log logr.Logger, paths ...string) error {
	if filesExist(paths) {
		return nil
	}
	log.Info("waiting for the serving certificate's files (the Secret mounted at the cert dir); not ready until then", "files", paths)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !filesExist(paths) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	log.Info("the serving certificate's files are there")
	return nil
}
