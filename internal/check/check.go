package check

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/json"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// Checker validates the BucketStateStores and GitStateStores of a set of inputs.
type Checker struct {
	// Prober, when set, probes every store that passes the static rules and whose
	// credentials are known: an IAM store, or an accessKey store whose Secret is in the
	// input.
	Prober probe.Prober
	// GitProber, when set, probes the repository of every GitStateStore that passes the
	// static rules and whose Secret is in the input, as Prober does a bucket.
	GitProber probe.GitProber
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

// Store is the verdict on one store: a BucketStateStore or a GitStateStore.
type Store struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Kind is the store's kind, BucketStateStore or GitStateStore.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Valid is whether the webhook would admit the store, as far as the command could
	// check it.
	Valid bool `json:"valid"`
	// Message is the webhook's whole answer to an invalid store, as the API server
	// passes it on: `<Kind>.platform.kratix.io "<name>" is invalid: ...`.
	Message string `json:"message,omitempty"`
	// Causes are the message's parts, one per field.
	Causes []Cause `json:"causes,omitempty"`
	// Warnings are the webhook's warnings; they do not make the store invalid.
	Warnings []string `json:"warnings,omitempty"`
	// Notices say what could not be checked offline.
	Notices []string `json:"notices,omitempty"`

	obj object
	// evaluate runs the pipeline on the decoded store; nil when it does not decode.
	evaluate func(ctx context.Context, p *admission.Pipeline) *admission.Outcome
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

// storeKinds are the kinds of store a check reads.
var storeKinds = []string{"BucketStateStore", "GitStateStore"}

// Check reads the files (see Inputs.read; "-" reads stdin) and checks every
// BucketStateStore and GitStateStore in them.
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
		if isStore(o.kind) {
			r.Stores = append(r.Stores, decodeStore(o))
		}
	}
	c.evaluate(ctx, r.Stores, secrets)
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

// isStore reports whether an object of kind k is a store a check reads.
func isStore(k typeMeta) bool {
	return k.APIVersion == v1alpha1.GroupVersion.String() && slices.Contains(storeKinds, k.Kind)
}

// decodeStore decodes a store as the webhook decodes the object it is sent.
func decodeStore(o object) *Store {
	s := &Store{File: o.doc.file, Line: o.line, Kind: o.kind.Kind, obj: o}
	var name string
	var err error
	if o.kind.Kind == "GitStateStore" {
		obj := &v1alpha1.GitStateStore{}
		err, name = json.UnmarshalCaseSensitivePreserveInts(o.json, obj), obj.Name
		s.evaluate = func(ctx context.Context, p *admission.Pipeline) *admission.Outcome {
			return p.EvaluateGitStore(ctx, authenticationv1.UserInfo{}, obj)
		}
	} else {
		obj := &v1alpha1.BucketStateStore{}
		err, name = json.UnmarshalCaseSensitivePreserveInts(o.json, obj), obj.Name
		s.evaluate = func(ctx context.Context, p *admission.Pipeline) *admission.Outcome {
			return p.EvaluateBucketStore(ctx, authenticationv1.UserInfo{}, obj)
		}
	}
	if err != nil {
		s.Message, s.evaluate = fmt.Sprintf("decoding the %s: %v", o.kind.Kind, err), nil
		return s
	}
	s.Name = name
	return s
}

// evaluate runs the webhook's pipeline on every store that decoded, ProbeConcurrency at a
// time, with the Secrets of the input in place of the API server's.
func (c *Checker) evaluate(ctx context.Context, stores []*Store, secrets map[string]*corev1.Secret) {
	// The pipeline logs what a webhook operator reads; the command reports it instead.
	ctx = logr.NewContext(ctx, logr.Discard())
	var g errgroup.Group
	g.SetLimit(max(1, c.ProbeConcurrency))
	for _, s := range stores {
		if s.evaluate == nil {
			continue
		}
		g.Go(func() error {
			p := &admission.Pipeline{Secrets: c.secretsFor(s, secrets), Prober: c.Prober, GitProber: c.GitProber, ProbeMode: admission.ProbeEnforce}
			out := s.evaluate(ctx, p)
			if out.Err != nil {
				s.Message = out.Err.Error()
				return nil
			}
			s.Warnings = out.Warnings
			s.setErrors(out.Denial())
			switch {
			case !out.SecretUnknown || s.Message != "":
			case c.Prober != nil && s.Kind == "BucketStateStore":
				s.Notices = append(s.Notices, "the bucket was not probed: the credentials are not in the input")
			case c.GitProber != nil && s.Kind == "GitStateStore":
				s.Notices = append(s.Notices, "the repository was not probed: the credentials are not in the input")
			}
			return nil
		})
	}
	_ = g.Wait()
}

// secretsFor gives the pipeline the input's Secrets for store s. A Secret the input does
// not hold is not found with RequireSecrets, as the webhook reports a missing Secret, and
// otherwise unknown, with a notice on s.
func (c *Checker) secretsFor(s *Store, secrets map[string]*corev1.Secret) admission.SecretGetter {
	return secretGetterFunc(func(_ context.Context, namespace, name string) (*corev1.Secret, error) {
		if secret, ok := secrets[namespace+"/"+name]; ok {
			return secret, nil
		}
		if c.RequireSecrets {
			return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
		}
		s.Notices = append(s.Notices, fmt.Sprintf("spec.secretRef: Secret %s/%s is not in the input, so its keys are not checked offline; --require-secrets makes this an error", namespace, name))
		return nil, admission.ErrSecretUnknown
	})
}

// secretGetterFunc adapts a function to an admission.SecretGetter.
type secretGetterFunc func(ctx context.Context, namespace, name string) (*corev1.Secret, error)

func (f secretGetterFunc) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return f(ctx, namespace, name)
}

// setErrors puts the webhook's denial of the store, if any, into s.
func (s *Store) setErrors(status *metav1.Status) {
	if status == nil {
		return
	}
	s.Message = status.Message
	for _, c := range status.Details.Causes {
		s.Causes = append(s.Causes, Cause{Field: c.Field, Type: string(c.Type), Message: c.Message, Line: s.obj.fieldLine(c.Field)})
	}
}
