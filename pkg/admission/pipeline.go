package admission

import (
	"context"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// Pipeline is the one evaluation of a state store: the validating webhook runs it on the
// object of a request, statestore-check on the objects of its files. It owns the
// order of the steps (defaults, static rules, the Secret behind the access review, the
// probe) and the answer; what differs between the two callers is only where Secrets come
// from and whether there is a prober. What differs between kinds of store is a storeKind.
type Pipeline struct {
	// Secrets reads the Secret a store names.
	Secrets SecretGetter
	// Access, when set, is asked before any Secret is read.
	Access AccessReviewer
	// SecretNamespaces, when set, are the only namespaces whose Secrets are read; a store
	// naming a Secret elsewhere is denied before any access review or read.
	SecretNamespaces []string
	// Prober checks the bucket of a BucketStateStore. When it is nil, or ProbeMode is
	// ProbeOff, nothing is probed.
	Prober probe.Prober
	// GitProber checks the repository of a GitStateStore, as Prober does a bucket.
	GitProber probe.GitProber
	// ProbeMode says what a failed probe does.
	ProbeMode ProbeMode
}

// ErrSecretUnknown is what a SecretGetter returns when it cannot tell whether the Secret
// exists: statestore-check, when its input does not hold the Secret. The pipeline
// then checks neither the Secret's keys nor the store's bucket, and the store is not
// denied for it.
var ErrSecretUnknown = errors.New("the Secret is not known")

// Outcome is the pipeline's verdict on one store.
type Outcome struct {
	// Warnings are for the person applying the store, whatever the verdict.
	Warnings []string
	// Err is set when the pipeline could not find out, such as when the API server did not
	// answer: the webhook answers with an error (500), not a verdict.
	Err error
	// SecretUnknown says that the Secret getter returned ErrSecretUnknown.
	SecretUnknown bool

	denial *metav1.Status
	// probed says the probe ran; probeErr and probeCached are how it went.
	probed      bool
	probeErr    error
	probeCached bool
}

// Denial is the 422 that denies the store, with one cause per field, as the API server's
// own validation answers; nil when the store is admitted.
func (o *Outcome) Denial() *metav1.Status { return o.denial }

// storeKind is what the pipeline needs to know of one kind of Kratix state store: a value
// holds one store. T is the target its prober checks. Everything else (the order of the
// steps, the access review, reading the Secret, the probe, its warnings and the answer)
// is the pipeline's, so that a second kind plugs in here rather than copying it.
type storeKind[T any] interface {
	// object names the store in answers.
	object() (schema.GroupKind, string)
	// setDefaults applies Kratix's defaults to the spec (pkg/defaults); running it twice
	// changes nothing more.
	setDefaults()
	// validate checks the static rules of the defaulted spec (validation.go's shape).
	validate(specPath *field.Path) (field.ErrorList, []string)
	// secretRef is the Secret the defaulted store takes its credentials from, with its
	// namespace set; nil when it takes none. It is asked only of a store that passed the
	// static rules.
	secretRef() *corev1.SecretReference
	// validateSecret checks the Secret that secretRef names, read for the user, as Kratix
	// will read it: the keys it needs and, where Kratix parses them, their values. shown
	// names the Secret; errors are on fldPath. Neither errors nor warnings hold a value.
	validateSecret(secret *corev1.Secret, shown string, fldPath *field.Path) (field.ErrorList, []string)
	// target is what the prober checks, with the credentials in secret (nil when the store
	// takes none).
	target(secret *corev1.Secret) T
	// probeError puts a failed probe on the field the user would change to fix it.
	probeError(specPath *field.Path, failure *probe.Failure) *field.Error
	// logValues are the key/value pairs that say, in a log line, what was probed.
	logValues() []any
}

// prober checks targets of type T; probe.Prober is a prober[probe.Target].
type prober[T any] interface {
	Probe(ctx context.Context, t T) error
}

// evaluate runs the pipeline on store s for user, with prober (nil for none). See
// Pipeline.
func evaluate[T any](ctx context.Context, p *Pipeline, pr prober[T], user authenticationv1.UserInfo, s storeKind[T]) *Outcome {
	log := logf.FromContext(ctx)
	out := &Outcome{}
	deny := func(allErrs field.ErrorList) *Outcome {
		gk, name := s.object()
		status := invalidError(gk, name, allErrs).Status()
		out.denial = &status
		return out
	}
	specPath := field.NewPath("spec")
	// The spec as it is stored once the mutating webhook has run, and as Kratix reads it
	// when it has not (a store created before the webhook was installed, or one that
	// reached only this webhook).
	s.setDefaults()
	allErrs, warnings := s.validate(specPath)
	out.Warnings = warnings
	if len(allErrs) > 0 {
		return deny(allErrs)
	}
	var secret *corev1.Secret
	if ref := s.secretRef(); ref != nil {
		var err error
		var secretWarnings []string
		secret, allErrs, secretWarnings, err = p.secret(ctx, user, ref, s.validateSecret, specPath.Child("secretRef"))
		out.Warnings = append(out.Warnings, secretWarnings...)
		switch {
		case errors.Is(err, ErrSecretUnknown):
			out.SecretUnknown = true
			return out
		case err != nil:
			out.Err = err
			return out
		case len(allErrs) > 0:
			return deny(allErrs)
		}
	}

	if pr == nil || p.ProbeMode == ProbeOff {
		return out
	}
	probeCtx, report := probe.WithCacheReport(ctx)
	err := pr.Probe(probeCtx, s.target(secret))
	out.probed, out.probeErr, out.probeCached = true, err, report.Hit()
	if err == nil {
		return out
	}
	var notProbed *probe.NotProbed
	if errors.As(err, &notProbed) {
		log.Info("store not probed", append([]any{"reason", notProbed.Reason}, s.logValues()...)...)
		out.Warnings = append(out.Warnings, notProbed.Warning)
		return out
	}
	failure := probe.AsFailure(err)
	log.Info("store probe failed", append(append([]any{"reason", failure.Reason}, s.logValues()...), "message", failure.Message, "error", failure.Err)...)
	if p.ProbeMode == ProbeWarn {
		out.Warnings = append(out.Warnings, probeWarning(failure))
		return out
	}
	return deny(field.ErrorList{s.probeError(specPath, failure)})
}

// secretValidator is a storeKind's validateSecret.
type secretValidator func(secret *corev1.Secret, shown string, fldPath *field.Path) (field.ErrorList, []string)

// secret reads the Secret ref names (its namespace set) for user and checks it with
// validate. A problem the user can fix comes back as field errors on fldPath, with the
// warnings of validate; a failure to ask the API server, or ErrSecretUnknown, as an error.
// Values are never put into any of them.
func (p *Pipeline) secret(ctx context.Context, user authenticationv1.UserInfo, ref *corev1.SecretReference, validate secretValidator, fldPath *field.Path) (*corev1.Secret, field.ErrorList, []string, error) {
	namespace, shown := ref.Namespace, secretName(ref)
	if allErrs := validateSecretNamespace(namespace, p.SecretNamespaces, fldPath.Child("namespace")); len(allErrs) > 0 {
		return nil, allErrs, nil, nil
	}
	if p.Access != nil {
		allowed, err := p.Access.CanGetSecret(ctx, user, namespace, ref.Name)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reviewing access to Secret %s: %w", shown, err)
		}
		if !allowed {
			// The same answer whether or not the Secret exists, so that the webhook does not
			// tell a user about Secrets they cannot read.
			return nil, field.ErrorList{field.Forbidden(fldPath, fmt.Sprintf("user %q may not get Secret %s; the webhook reads a Secret only for users who may read it themselves", user.Username, shown))}, nil, nil
		}
	}
	secret, err := p.Secrets.GetSecret(ctx, namespace, ref.Name)
	switch {
	case apierrors.IsNotFound(err) || err == nil && secret == nil:
		return nil, field.ErrorList{field.NotFound(fldPath, shown)}, nil, nil
	case errors.Is(err, ErrSecretUnknown):
		return nil, nil, nil, err
	case err != nil:
		return nil, nil, nil, fmt.Errorf("reading Secret %s: %w", shown, err)
	}
	allErrs, warnings := validate(secret, shown, fldPath)
	if len(allErrs) > 0 {
		return nil, allErrs, warnings, nil
	}
	return secret, nil, warnings, nil
}

// validateSecretKeys checks that secret holds each of keys, none empty: one field error on
// fldPath per problem, never with a value.
func validateSecretKeys(secret *corev1.Secret, keys []string, shown string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, key := range keys {
		value, ok := secret.Data[key]
		switch {
		case !ok:
			allErrs = append(allErrs, field.Required(fldPath, fmt.Sprintf("Secret %s has no key %q", shown, key)))
		case len(value) == 0:
			allErrs = append(allErrs, field.Required(fldPath, fmt.Sprintf("key %q of Secret %s is empty", key, shown)))
		}
	}
	return allErrs
}

// invalidError is the webhook's answer to the store of kind gk and name with allErrs,
// as the API server passes it on. String values and the name are cut to
// maxShownLength, so that an answer stays small whatever a request holds.
func invalidError(gk schema.GroupKind, name string, allErrs field.ErrorList) *apierrors.StatusError {
	for _, e := range allErrs {
		if s, ok := e.BadValue.(string); ok {
			e.BadValue = shorten(s)
		}
	}
	return apierrors.NewInvalid(gk, shorten(name), allErrs)
}
