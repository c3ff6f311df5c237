package admission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/text"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// Messages of the Secret guard; <stores> lists the stores' names (listNames). None holds
// a value of the Secret.
const (
	// messageSecretDeleted takes the Secret and the stores by kind (storesByKind).
	messageSecretDeleted    = "deleting Secret %s breaks %s: Kratix reads their credentials from it; point their spec.secretRef at another Secret first"
	messageSecretKeyRemoved = "this update of Secret %s removes or empties %q, which BucketStateStore(s) %s need; keep both accessKeyID and secretAccessKey"
	// messageSecretGitInvalid takes the Secret, the GitStateStore and what its Secret
	// checks say (validateGitSecret).
	messageSecretGitInvalid = "this update of Secret %s breaks GitStateStore %q: %s"
	// messageSecretBreaks and messageSecretUnchecked take the Secret, the store's kind and
	// name and the probe's message.
	messageSecretBreaks    = "the new credentials in Secret %s do not work for %s %q: %s"
	messageSecretUnchecked = "the new credentials in Secret %s could not be checked for %s %q: %s"
)

// StoreIndex tells which stores take their credentials from a Secret.
type StoreIndex interface {
	// GitStoresUsingSecret returns the GitStateStores whose spec.secretRef, defaulted,
	// names the Secret namespace/name, sorted by name. known is false while the cache of
	// stores is not in sync.
	GitStoresUsingSecret(ctx context.Context, namespace, name string) (stores []v1alpha1.GitStateStore, known bool, err error)
	// StoresUsingSecret returns the accessKey stores whose spec.secretRef, defaulted,
	// names the Secret namespace/name, sorted by name. known is false while the cache of
	// stores is not in sync.
	StoresUsingSecret(ctx context.Context, namespace, name string) (stores []v1alpha1.BucketStateStore, known bool, err error)
}

// SecretGuard is the validating webhook on the Secrets that stores take their
// credentials from: it tells the person deleting or changing such a Secret which stores
// that would break, before Kratix finds out. Its webhook configuration fails open and
// sends it only Secrets whose old object has a key a store's credentials start with.
//
// The new credentials come from the request itself: the guard never reads a Secret.
type SecretGuard struct {
	// Stores tells which stores use a Secret.
	Stores StoreIndex
	// Prober checks each store with the new credentials: the validating webhook's, so that
	// the probes go through the same cache and endpoint guard.
	Prober probe.Prober
	// GitProber does for GitStateStores what Prober does for buckets; nil: they are not
	// probed, only their Secret checks run.
	GitProber probe.GitProber
	// Mode says what the guard does with a change that breaks a store.
	Mode GuardMode
	// Budget bounds the time all probes of one request take together.
	Budget time.Duration
	// Parallel bounds how many stores one request probes at a time.
	Parallel int
}

var _ ctrladmission.Handler = &SecretGuard{}

var secrets = schema.GroupResource{Resource: "secrets"}

// Handle answers DELETE and UPDATE of a Secret; every other operation is allowed.
func (g *SecretGuard) Handle(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
	ctx = context.WithoutCancel(ctx) // as in Validator.Handle: the budget bounds the probes
	return runGuard(ctx, req, "secretguard", g.Mode, g.check, admissionv1.Delete, admissionv1.Update)
}

// check answers a DELETE or UPDATE of a Secret while the guard is on.
func (g *SecretGuard) check(ctx context.Context, req ctrladmission.Request, note auditNote) ctrladmission.Response {
	old, err := decodeSecret(req.AdmissionRequest, req.OldObject.Raw)
	if err != nil {
		return ctrladmission.Errored(http.StatusBadRequest, err)
	}
	var updated *corev1.Secret
	if req.Operation == admissionv1.Update {
		if updated, err = decodeSecret(req.AdmissionRequest, req.Object.Raw); err != nil {
			return ctrladmission.Errored(http.StatusBadRequest, err)
		}
		if sameCredentials(old, updated) {
			note[AuditGuard] = GuardFindingSafe
			return ctrladmission.Allowed("")
		}
	}
	stores, known, err := g.Stores.StoresUsingSecret(ctx, old.Namespace, old.Name)
	gitStores, gitKnown, gitErr := g.Stores.GitStoresUsingSecret(ctx, old.Namespace, old.Name)
	if err = errors.Join(err, gitErr); err != nil {
		logf.FromContext(ctx).Error(err, "cannot list the stores from the cache")
		return ctrladmission.Errored(http.StatusInternalServerError, errors.New("cannot tell which stores use the Secret"))
	}
	if !note.inUse(known && gitKnown, len(stores)+len(gitStores)) {
		return ctrladmission.Allowed("")
	}

	shown, names := old.Namespace+"/"+old.Name, storeNames(stores)
	// problems are what the answer names; denials are those that deny mode refuses.
	var problems, denials []string
	switch key := missingKey(updated); {
	case updated == nil:
		problems = []string{fmt.Sprintf(messageSecretDeleted, shown, storesByKind(names, storeNames(gitStores)))}
		denials = problems
	case len(stores) > 0 && key != "":
		problems = []string{fmt.Sprintf(messageSecretKeyRemoved, shown, key, listNames(names))}
		denials = problems
	default:
		// A Git store whose Secret checks fail is broken whatever a probe would say; the
		// others are probed. Failures that are not about the credentials (an endpoint down
		// or slow) do not say that the new values are wrong: they are warnings even in deny
		// mode.
		checks := make([]guardedProbe, 0, len(stores)+len(gitStores))
		for i := range stores {
			store := newBucketStore(&stores[i])
			store.setDefaults()
			checks = append(checks, guardedProbe{"BucketStateStore", stores[i].Name, func(ctx context.Context) error {
				return g.Prober.Probe(ctx, store.target(updated))
			}})
		}
		for i := range gitStores {
			store := newGitStore(&gitStores[i])
			store.setDefaults()
			if allErrs, _ := store.validateSecret(updated, shown, field.NewPath("spec", "secretRef")); len(allErrs) > 0 {
				problems = append(problems, fmt.Sprintf(messageSecretGitInvalid, shown, text.Cut(gitStores[i].Name, text.MaxLabel), allErrs[0].Detail))
				continue
			}
			if g.GitProber != nil {
				checks = append(checks, guardedProbe{"GitStateStore", gitStores[i].Name, func(ctx context.Context) error {
					return g.GitProber.Probe(ctx, store.target(updated))
				}})
			}
		}
		denials = slices.Clone(problems)
		failed, refused := g.probeAll(ctx, checks, shown)
		problems, denials = append(problems, failed...), append(denials, refused...)
		if len(problems) == 0 {
			note[AuditGuard] = GuardFindingSafe
			return ctrladmission.Allowed("")
		}
	}
	note[AuditGuard] = GuardFindingBreaks
	denial := ""
	if len(denials) > 0 {
		denial = joinProblems(denials)
	}
	return guardAnswer(g.Mode, secrets, text.Cut(old.Name, text.MaxName), problems, denial)
}

// guardedProbe is the probe of one store that uses a Secret, with the Secret's new values.
type guardedProbe struct {
	kind, name string
	run        func(ctx context.Context) error
}

// probeAll runs every check, Parallel at a time and all within Budget, and returns a
// message for each store that fails, and apart those whose failure is about the
// credentials. shown names the Secret.
func (g *SecretGuard) probeAll(ctx context.Context, checks []guardedProbe, shown string) (all, credentials []string) {
	ctx, cancel := context.WithTimeout(ctx, g.Budget)
	defer cancel()
	failures := make([]error, len(checks))
	slots := make(chan struct{}, max(g.Parallel, 1))
	var wg sync.WaitGroup
	for i := range checks {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			failures[i] = checks[i].run(ctx)
		})
	}
	wg.Wait()
	for i, err := range failures {
		if err == nil {
			continue
		}
		failure := probe.AsFailure(err)
		// Only a failure that refuses the credentials says that the new values are wrong;
		// any other (an endpoint down or slow, the webhook busy) says they could not be
		// checked, and the message says so.
		if probe.Info(failure.Reason).RefusesCredentials {
			message := fmt.Sprintf(messageSecretBreaks, shown, checks[i].kind, text.Cut(checks[i].name, text.MaxLabel), failure.Error())
			all, credentials = append(all, message), append(credentials, message)
			continue
		}
		all = append(all, fmt.Sprintf(messageSecretUnchecked, shown, checks[i].kind, text.Cut(checks[i].name, text.MaxLabel), failure.Error()))
	}
	return all, credentials
}

// credentialKeys are the keys any store reads from its Secret.
var credentialKeys = slices.Concat(bucketSecretKeys,
	gitSecretKeys[v1alpha1.GitAuthMethodBasicAuth], gitSecretKeys[v1alpha1.GitAuthMethodSSH], gitSecretKeys[v1alpha1.GitAuthMethodGitHubApp])

// sameCredentials reports whether both Secrets hold the same values under every key a
// store reads (or both lack them).
func sameCredentials(a, b *corev1.Secret) bool {
	for _, key := range credentialKeys {
		va, oka := a.Data[key]
		vb, okb := b.Data[key]
		if oka != okb || !bytes.Equal(va, vb) {
			return false
		}
	}
	return true
}

// missingKey returns the first credentials key secret lacks or has empty; "" for nil or
// a Secret with both.
func missingKey(secret *corev1.Secret) string {
	if secret == nil {
		return ""
	}
	for _, key := range bucketSecretKeys {
		if len(secret.Data[key]) == 0 {
			return key
		}
	}
	return ""
}

// storesByKind lists the stores of each kind that has some, after the kind:
// `BucketStateStore(s) "a", "b" and GitStateStore(s) "c"`.
func storesByKind(buckets, gits []string) string {
	var parts []string
	if len(buckets) > 0 {
		parts = append(parts, "BucketStateStore(s) "+listNames(buckets))
	}
	if len(gits) > 0 {
		parts = append(parts, "GitStateStore(s) "+listNames(gits))
	}
	return strings.Join(parts, " and ")
}

// storeNames are the names of stores.
func storeNames[T any, P interface {
	*T
	GetName() string
}](stores []T) []string {
	names := make([]string, len(stores))
	for i := range stores {
		names[i] = P(&stores[i]).GetName()
	}
	return names
}

// joinProblems joins the first maxNamesShown problems, and says how many more there are.
func joinProblems(problems []string) string {
	s := ""
	for i, p := range problems[:min(len(problems), maxNamesShown)] {
		if i > 0 {
			s += "; "
		}
		s += text.Cut(p, text.MaxProblem)
	}
	if more := len(problems) - maxNamesShown; more > 0 {
		s += fmt.Sprintf("; and %d more", more)
	}
	return s
}
