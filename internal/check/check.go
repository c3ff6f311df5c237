package check

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/json"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/admission"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/defaults"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/probe"
)

// Checker validates the BucketStateStores of a set of inputs.
type Checker struct {
	// Prober, when set, probes every store that passes the static rules and whose
	// credentials are known: an IAM store, or an accessKey store whose Secret is in the
	// input.
	Prober probe.Prober
	// RequireSecrets reports a Secret the input does not hold as the webhook reports a
	// missing Secret. Without it, such a store gets a notice: not checkable offline.
	RequireSecrets bool
	// ProbeConcurrency bounds the probes in flight; 0 means one at a time.
	ProbeConcurrency int
	// Inputs says which files to read and how.
	Inputs Inputs
}

// Result is what a check found.
type Result struct {
	// Files is how many files (or standard input) were read.
	Files int `json:"files"`
	// Stores are the BucketStateStores found, in input order.
	Stores []*Store `json:"stores"`
	// Errors are the inputs that could not be read.
	Errors []InputError `json:"errors"`
	// Skipped are the inputs that were not read, or not checked because they are not
	// Kubernetes manifests.
	Skipped []InputError `json:"skipped,omitempty"`
	// FailOnWarnings makes a store with warnings fail the run, as an invalid one does.
	FailOnWarnings bool `json:"-"`
}

// Store is the verdict on one BucketStateStore.
type Store struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Name string `json:"name"`
	// Valid is whether the webhook would admit the store, as far as the command could
	// check it.
	Valid bool `json:"valid"`
	// Message is the webhook's whole answer to an invalid store, as the API server
	// passes it on: `BucketStateStore.platform.kratix.io "<name>" is invalid: ...`.
	Message string `json:"message,omitempty"`
	// Causes are the message's parts, one per field.
	Causes []Cause `json:"causes,omitempty"`
	// Warnings are the webhook's warnings; they do not make the store invalid.
	Warnings []string `json:"warnings,omitempty"`
	// Notices say what could not be checked offline.
	Notices []string `json:"notices,omitempty"`

	spec *v1alpha1.BucketStateStoreSpec
	obj  object
	// creds are the credentials for the probe, when the Secret was in the input.
	creds *probe.Credentials
	// probe says the store passed every check before the probe and can be probed.
	probe bool
}

// Cause is one field's problem, as the API server's status reports it.
type Cause struct {
	Field string `json:"field"`
	// Type is the kind of problem, e.g. FieldValueInvalid or FieldValueRequired.
	Type string `json:"type"`
	// Message is what kubectl prints after the field, e.g. `Invalid value: "x": ...`.
	Message string `json:"message"`
	Line    int    `json:"line"`
}

// String is the cause as kubectl prints it: `<field>: <message>`.
func (c Cause) String() string { return c.Field + ": " + c.Message }

var storeGVK = v1alpha1.GroupVersion.WithKind("BucketStateStore")

// Check reads the files (see Inputs.read; "-" reads stdin) and checks every
// BucketStateStore in them.
func (c *Checker) Check(ctx context.Context, args []string, stdin io.Reader) *Result {
	in := c.Inputs.read(ctx, args, stdin)
	r := &Result{Files: in.files, Errors: in.errs, Skipped: in.skipped}
	objs := in.objs

	secrets := map[string]*corev1.Secret{}
	for _, o := range objs {
		if o.kind.APIVersion == "v1" && o.kind.Kind == "Secret" {
			s, err := decodeSecret(o.json)
			if err != nil {
				r.Errors = append(r.Errors, InputError{File: o.doc.file, Line: o.line, Message: "decoding the Secret: " + err.Error()})
				continue
			}
			// A later Secret of the same name replaces an earlier one, as kubectl applies them.
			secrets[s.Namespace+"/"+s.Name] = s
		}
	}
	for _, o := range objs {
		if o.kind.APIVersion == storeGVK.GroupVersion().String() && o.kind.Kind == storeGVK.Kind {
			r.Stores = append(r.Stores, c.checkStatic(o, secrets))
		}
	}
	if c.Prober != nil {
		c.probe(ctx, r.Stores)
	}
	for _, s := range r.Stores {
		s.Valid = s.Message == ""
	}
	return r
}

// decodeSecret reads a Secret as the API server stores it: stringData merged into data,
// and no namespace meaning default, where kubectl applies it with a default context.
func decodeSecret(j []byte) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := json.UnmarshalCaseSensitivePreserveInts(j, s); err != nil {
		return nil, err
	}
	if s.Namespace == "" {
		s.Namespace = defaults.DefaultSecretNamespace
	}
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	return s, nil
}

// checkStatic runs what the webhook runs before the probe: the defaults, the static
// rules, and the checks of the Secret when the input holds it.
func (c *Checker) checkStatic(o object, secrets map[string]*corev1.Secret) *Store {
	s := &Store{File: o.doc.file, Line: o.line, obj: o}
	obj := &v1alpha1.BucketStateStore{}
	// Decoded as the webhook decodes the object it is sent.
	if err := json.UnmarshalCaseSensitivePreserveInts(o.json, obj); err != nil {
		s.Message = fmt.Sprintf("decoding the BucketStateStore: %v", err)
		return s
	}
	s.Name = obj.Name
	specPath := field.NewPath("spec")
	s.spec = obj.Spec.DeepCopy()
	defaults.Spec(s.spec)
	allErrs, warnings := admission.ValidateSpec(s.spec, specPath)
	s.Warnings = warnings
	if len(allErrs) == 0 && s.spec.AuthMethod == v1alpha1.AuthMethodAccessKey {
		ref, refPath := s.spec.SecretRef, specPath.Child("secretRef")
		secret, ok := secrets[ref.Namespace+"/"+ref.Name]
		if ok || c.RequireSecrets {
			var secretErrs field.ErrorList
			s.creds, secretErrs = admission.SecretCredentials(secret, ref, refPath)
			allErrs = append(allErrs, secretErrs...)
		} else {
			s.Notices = append(s.Notices, fmt.Sprintf("%s: Secret %s/%s is not in the input, so its keys are not checked offline; --require-secrets makes this an error", refPath, ref.Namespace, ref.Name))
		}
	}
	s.setErrors(allErrs)
	s.probe = len(allErrs) == 0 && (s.creds != nil || s.spec.AuthMethod == v1alpha1.AuthMethodIAM)
	return s
}

// setErrors turns field errors into the webhook's answer.
func (s *Store) setErrors(allErrs field.ErrorList) {
	if len(allErrs) == 0 {
		return
	}
	status := admission.InvalidError(s.Name, allErrs).Status()
	s.Message = status.Message
	for _, c := range status.Details.Causes {
		s.Causes = append(s.Causes, Cause{Field: c.Field, Type: string(c.Type), Message: c.Message, Line: s.obj.fieldLine(c.Field)})
	}
}

// probe probes the stores that passed every other check, ProbeConcurrency at a time.
func (c *Checker) probe(ctx context.Context, stores []*Store) {
	var g errgroup.Group
	g.SetLimit(max(1, c.ProbeConcurrency))
	for _, s := range stores {
		if !s.probe {
			if s.Message == "" && s.spec != nil {
				s.Notices = append(s.Notices, "the bucket was not probed: the credentials are not in the input")
			}
			continue
		}
		g.Go(func() error {
			err := c.Prober.Probe(ctx, admission.ProbeTarget(s.spec, s.creds))
			if err == nil {
				return nil
			}
			// As the webhook does, a store the prober declined to probe (an IAM store at an
			// endpoint its identity is not trusted with) is valid, with the prober's warning.
			var notProbed *probe.NotProbed
			if errors.As(err, &notProbed) {
				s.Warnings = append(s.Warnings, notProbed.Warning)
				return nil
			}
			s.setErrors(field.ErrorList{admission.ProbeError(s.spec, field.NewPath("spec"), probe.AsFailure(err))})
			return nil
		})
	}
	_ = g.Wait()
}
