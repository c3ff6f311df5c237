package admission

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// fakeDestinations maps a store, kind/name, to the Destinations that use it; nil means
// unknown.
type fakeDestinations map[string][]string

func (f fakeDestinations) DestinationsUsing(_ context.Context, kind, store string) ([]string, bool, error) {
	if f == nil {
		return nil, false, nil
	}
	return f[kind+"/"+store], true, nil
}

// fakeStores maps namespace/name of a Secret to the stores that use it; nil means unknown.
type fakeStores map[string][]v1alpha1.BucketStateStore

// GitStoresUsingSecret finds no GitStateStore; TestSecretGuardGit has its own index.
func (f fakeStores) GitStoresUsingSecret(_ context.Context, _, _ string) ([]v1alpha1.GitStateStore, bool, error) {
	return nil, f != nil, nil
}

func (f fakeStores) StoresUsingSecret(_ context.Context, namespace, name string) ([]v1alpha1.BucketStateStore, bool, error) {
	if f == nil {
		return nil, false, nil
	}
	return f[namespace+"/"+name], true, nil
}

func rawOf(t *testing.T, obj any) runtime.RawExtension {
	t.Helper()
	if obj == nil {
		return runtime.RawExtension{}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: b}
}

// answer is what a test compares of a response.
type answer struct {
	Allowed  bool
	Message  string
	Warnings []string
	Audit    map[string]string
}

func answerOf(resp ctrladmission.Response) answer {
	a := answer{Allowed: resp.Allowed, Warnings: resp.Warnings, Audit: resp.AuditAnnotations}
	if resp.Result != nil && !resp.Allowed {
		a.Message = resp.Result.Message
	}
	return a
}

func TestDeleteGuard(t *testing.T) {
	store := func(annotations map[string]string) *v1alpha1.BucketStateStore {
		return &v1alpha1.BucketStateStore{ObjectMeta: metav1.ObjectMeta{Name: "shared", Annotations: annotations}}
	}
	inUse := fakeDestinations{"BucketStateStore/shared": {"dev", "prod", "stage", "test"}, "GitStateStore/shared": {"dev"}}
	denial := `bucketstatestores.platform.kratix.io "shared" is forbidden: BucketStateStore "shared" is the state store of 4 Destination(s): "dev", "prod", "stage" and 1 more; delete them or point their spec.stateStoreRef at another store first, or annotate the store statestore-webhook.kratix-community.io/allow-delete=true`
	cases := map[string]struct {
		mode         GuardMode
		destinations fakeDestinations
		kind         string // empty: BucketStateStore
		store        *v1alpha1.BucketStateStore
		want         answer
	}{
		"deleting a GitStateStore that a Destination uses is denied, naming its kind": {
			mode: GuardDeny, destinations: inUse, kind: "GitStateStore", store: store(nil),
			want: answer{Message: `gitstatestores.platform.kratix.io "shared" is forbidden: GitStateStore "shared" is the state store of 1 Destination(s): "dev"; delete them or point their spec.stateStoreRef at another store first, or annotate the store statestore-webhook.kratix-community.io/allow-delete=true`,
				Audit: map[string]string{AuditVerdict: VerdictDenied, AuditGuard: GuardFindingBreaks}},
		},
		"a GitStateStore is not guarded by the Destinations of a BucketStateStore of its name": {
			mode: GuardDeny, destinations: fakeDestinations{"BucketStateStore/shared": {"dev"}}, kind: "GitStateStore", store: store(nil),
			want: answer{Allowed: true, Audit: map[string]string{AuditVerdict: VerdictAllowed, AuditGuard: GuardFindingUnused}},
		},
		"deleting a store that Destinations use is denied, naming the first three": {
			mode: GuardDeny, destinations: inUse, store: store(nil),
			want: answer{Message: denial, Audit: map[string]string{AuditVerdict: VerdictDenied, AuditGuard: GuardFindingBreaks}},
		},
		"in warn mode it is allowed with the same words as a warning": {
			mode: GuardWarn, destinations: fakeDestinations{"BucketStateStore/shared": {"dev"}}, store: store(nil),
			want: answer{Allowed: true, Warnings: []string{`BucketStateStore "shared" is the state store of 1 Destination(s): "dev"; delete them or point their spec.stateStoreRef at another store first, or annotate the store statestore-webhook.kratix-community.io/allow-delete=true`},
				Audit: map[string]string{AuditVerdict: VerdictWarned, AuditGuard: GuardFindingBreaks}},
		},
		"the allow-delete annotation lets it go": {
			mode: GuardDeny, destinations: inUse, store: store(map[string]string{AllowDeleteAnnotation: "true"}),
			want: answer{Allowed: true, Audit: map[string]string{AuditVerdict: VerdictAllowed, AuditGuard: GuardFindingAllowDelete}},
		},
		"an allow-delete annotation other than true does not": {
			mode: GuardDeny, destinations: inUse, store: store(map[string]string{AllowDeleteAnnotation: "yes"}),
			want: answer{Message: denial, Audit: map[string]string{AuditVerdict: VerdictDenied, AuditGuard: GuardFindingBreaks}},
		},
		"a store no Destination uses is deleted": {
			mode: GuardDeny, destinations: fakeDestinations{}, store: store(nil),
			want: answer{Allowed: true, Audit: map[string]string{AuditVerdict: VerdictAllowed, AuditGuard: GuardFindingUnused}},
		},
		"without the Destination CRD the guard lets it go": {
			mode: GuardDeny, destinations: nil, store: store(nil),
			want: answer{Allowed: true, Audit: map[string]string{AuditVerdict: VerdictAllowed, AuditGuard: GuardFindingUnknown}},
		},
		"off allows without looking": {
			mode: GuardOff, destinations: inUse, store: store(nil),
			want: answer{Allowed: true, Audit: map[string]string{AuditVerdict: VerdictAllowed, AuditGuard: GuardFindingOff}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := &DeleteGuard{Destinations: tc.destinations, Mode: tc.mode}
			kind := tc.kind
			if kind == "" {
				kind = "BucketStateStore"
			}
			req := ctrladmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Kind:      metav1.GroupVersionKind{Group: "platform.kratix.io", Version: "v1alpha1", Kind: kind},
				Operation: admissionv1.Delete,
				Name:      tc.store.Name,
				OldObject: rawOf(t, tc.store),
			}}
			if diff := cmp.Diff(tc.want, answerOf(g.Handle(t.Context(), req))); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretGuard(t *testing.T) {
	const good, unknown = "good-key", "unknown-key"
	creds := func(accessKey, secretKey string) *corev1.Secret {
		s := secret(map[string]string{v1alpha1.SecretKeyAccessKeyID: accessKey, v1alpha1.SecretKeySecretAccessKey: secretKey})
		s.Namespace, s.Name = "team", "s3"
		return s
	}
	withoutSecretKey := creds(good, secretValue)
	delete(withoutSecretKey.Data, v1alpha1.SecretKeySecretAccessKey)
	old := creds(good, secretValue)
	storeNamed := func(name string) v1alpha1.BucketStateStore {
		return v1alpha1.BucketStateStore{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.BucketStateStoreSpec{
			BucketName: "b", Endpoint: "s3.example.com",
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "s3", Namespace: "team"}},
		}}
	}
	used := fakeStores{"team/s3": {storeNamed("a"), storeNamed("b")}}
	// The prober knows good; any other access key is InvalidAccessKeyId, and an endpoint
	// named down times out.
	prober := probe.ProberFunc(func(_ context.Context, tg probe.Target) error {
		switch {
		case tg.Endpoint == "down.example.com":
			return &probe.Failure{Reason: probe.ReasonTimeout, Message: "timed out"}
		case tg.Credentials.AccessKeyID != good:
			return &probe.Failure{Reason: probe.ReasonInvalidAccessKeyID, Message: "the access key ID is not known to the endpoint; check accessKeyID in the Secret"}
		}
		return nil
	})
	breaks := func(store string) string {
		return `the new credentials in Secret team/s3 do not work for BucketStateStore "` + store + `": the access key ID is not known to the endpoint; check accessKeyID in the Secret (reason: InvalidAccessKeyId)`
	}
	audit := func(verdict, finding string) map[string]string {
		return map[string]string{AuditVerdict: verdict, AuditGuard: finding}
	}
	downStore := storeNamed("c")
	downStore.Spec.Endpoint = "down.example.com"

	cases := map[string]struct {
		mode    GuardMode
		stores  fakeStores
		op      admissionv1.Operation
		updated *corev1.Secret
		want    answer
	}{
		"rotating to a key the endpoint knows passes quietly": {
			mode: GuardWarn, stores: used, op: admissionv1.Update, updated: creds(good, "another-secret"),
			want: answer{Allowed: true, Audit: audit(VerdictAllowed, GuardFindingSafe)},
		},
		"rotating to an unknown key warns for each store with its reason": {
			mode: GuardWarn, stores: used, op: admissionv1.Update, updated: creds(unknown, secretValue),
			want: answer{Allowed: true, Warnings: []string{breaks("a"), breaks("b")}, Audit: audit(VerdictWarned, GuardFindingBreaks)},
		},
		"in deny mode rotating to an unknown key is denied": {
			mode: GuardDeny, stores: used, op: admissionv1.Update, updated: creds(unknown, secretValue),
			want: answer{Message: `secrets "s3" is forbidden: ` + breaks("a") + "; " + breaks("b"), Audit: audit(VerdictDenied, GuardFindingBreaks)},
		},
		"in deny mode a store whose endpoint is down only warns that it could not be checked": {
			mode: GuardDeny, stores: fakeStores{"team/s3": {downStore}}, op: admissionv1.Update, updated: creds(unknown, secretValue),
			want: answer{Allowed: true, Warnings: []string{`the new credentials in Secret team/s3 could not be checked for BucketStateStore "c": timed out (reason: Timeout)`}, Audit: audit(VerdictWarned, GuardFindingBreaks)},
		},
		"removing secretAccessKey warns naming the stores": {
			mode: GuardWarn, stores: used, op: admissionv1.Update, updated: withoutSecretKey,
			want: answer{Allowed: true, Warnings: []string{`this update of Secret team/s3 removes or empties "secretAccessKey", which BucketStateStore(s) "a", "b" need; keep both accessKeyID and secretAccessKey`}, Audit: audit(VerdictWarned, GuardFindingBreaks)},
		},
		"emptying accessKeyID in deny mode is denied": {
			mode: GuardDeny, stores: used, op: admissionv1.Update, updated: creds("", secretValue),
			want: answer{Message: `secrets "s3" is forbidden: this update of Secret team/s3 removes or empties "accessKeyID", which BucketStateStore(s) "a", "b" need; keep both accessKeyID and secretAccessKey`, Audit: audit(VerdictDenied, GuardFindingBreaks)},
		},
		"deleting a used Secret warns naming the stores": {
			mode: GuardWarn, stores: used, op: admissionv1.Delete,
			want: answer{Allowed: true, Warnings: []string{`deleting Secret team/s3 breaks BucketStateStore(s) "a", "b": Kratix reads their credentials from it; point their spec.secretRef at another Secret first`}, Audit: audit(VerdictWarned, GuardFindingBreaks)},
		},
		"a Secret no store uses passes untouched": {
			mode: GuardDeny, stores: fakeStores{}, op: admissionv1.Delete,
			want: answer{Allowed: true, Audit: audit(VerdictAllowed, GuardFindingUnused)},
		},
		"an update that keeps the values passes without looking": {
			mode: GuardDeny, stores: used, op: admissionv1.Update, updated: creds(good, secretValue),
			want: answer{Allowed: true, Audit: audit(VerdictAllowed, GuardFindingSafe)},
		},
		"before the cache is in sync the guard lets it go": {
			mode: GuardDeny, stores: nil, op: admissionv1.Delete,
			want: answer{Allowed: true, Audit: audit(VerdictAllowed, GuardFindingUnknown)},
		},
		"off allows without looking": {
			mode: GuardOff, stores: used, op: admissionv1.Delete,
			want: answer{Allowed: true, Audit: audit(VerdictAllowed, GuardFindingOff)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := &SecretGuard{Stores: tc.stores, Prober: prober, Mode: tc.mode, Budget: 5 * time.Second, Parallel: 2}
			req := ctrladmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Secret"},
				Operation: tc.op,
				Namespace: "team",
				Name:      "s3",
				OldObject: rawOf(t, old),
			}}
			if tc.updated != nil {
				req.Object = rawOf(t, tc.updated)
			}
			got := answerOf(g.Handle(t.Context(), req))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if strings.Contains(got.Message+strings.Join(got.Warnings, ""), secretValue) {
				t.Errorf("the answer holds the secret access key")
			}
		})
	}
}

func TestSecretGuardProbesWithinItsBudget(t *testing.T) {
	stores := make([]v1alpha1.BucketStateStore, 10)
	for i := range stores {
		stores[i].Name = string(rune('a' + i))
		stores[i].Spec = v1alpha1.BucketStateStoreSpec{BucketName: "b", Endpoint: "s3.example.com",
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "s3"}}}
	}
	var mu sync.Mutex
	running, most := 0, 0
	prober := probe.ProberFunc(func(ctx context.Context, _ probe.Target) error {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-ctx.Done() // every probe hangs until the budget ends
		mu.Lock()
		running--
		mu.Unlock()
		return &probe.Failure{Reason: probe.ReasonTimeout, Message: "timed out", Err: ctx.Err()}
	})
	g := &SecretGuard{Stores: fakeStores{"default/s3": stores}, Prober: prober, Mode: GuardDeny, Budget: time.Millisecond, Parallel: 3}
	old := secret(map[string]string{v1alpha1.SecretKeyAccessKeyID: "a", v1alpha1.SecretKeySecretAccessKey: "b"})
	old.Namespace, old.Name = "default", "s3"
	updated := old.DeepCopy()
	updated.Data[v1alpha1.SecretKeyAccessKeyID] = []byte("c")
	resp := g.Handle(t.Context(), ctrladmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Secret"}, Operation: admissionv1.Update,
		OldObject: rawOf(t, old), Object: rawOf(t, updated),
	}})
	if !resp.Allowed || len(resp.Warnings) != len(stores) {
		t.Errorf("want the update allowed with a warning per store (timeouts are not about the credentials), got allowed=%v, %d warnings", resp.Allowed, len(resp.Warnings))
	}
	if most > 3 {
		t.Errorf("%d probes ran at once, want at most Parallel (3)", most)
	}
}

func TestStoreInUseMessageNamesTheAnnotation(t *testing.T) {
	if !strings.Contains(messageStoreInUse, AllowDeleteAnnotation+"=true") {
		t.Errorf("the delete guard's message does not spell out %s", AllowDeleteAnnotation)
	}
}

func TestWarningsStayUnder256Bytes(t *testing.T) {
	long := strings.Repeat("x", 253)
	msg := asWarnings([]string{messageStoreInUse + long})[0]
	if len(msg) > maxWarningLength {
		t.Errorf("warning of %d bytes, want at most %d", len(msg), maxWarningLength)
	}
	if got := listNames([]string{long, "b", "c", "d", "e"}); !strings.HasSuffix(got, `"b", "c" and 2 more`) || len(got) > 100 {
		t.Errorf("listNames = %q", got)
	}
}

func TestValidatorAuditAnnotations(t *testing.T) {
	goodSecret := fakeSecrets{"default/minio-credentials": secret(map[string]string{"accessKeyID": "minio", "secretAccessKey": secretValue})}
	missing := probe.ProberFunc(func(context.Context, probe.Target) error {
		return &probe.Failure{Reason: probe.ReasonBucketNotFound, Message: "no bucket"}
	})
	cached := probe.NewCache(probe.ProberFunc(func(context.Context, probe.Target) error { return nil }), time.Minute, nil)
	cases := map[string]struct {
		prober probe.Prober
		mode   ProbeMode
		want   []map[string]string // for the same request sent again and again
	}{
		"a store that passes says so, and the second time that the cache answered": {
			prober: cached, mode: ProbeEnforce,
			want: []map[string]string{
				{AuditVerdict: VerdictAllowed, AuditProbe: "OK", AuditProbeCached: "false"},
				{AuditVerdict: VerdictAllowed, AuditProbe: "OK", AuditProbeCached: "true"},
			},
		},
		"a denied store names the probe's reason": {
			prober: missing, mode: ProbeEnforce,
			want: []map[string]string{{AuditVerdict: VerdictDenied, AuditProbe: "BucketNotFound", AuditProbeCached: "false"}},
		},
		"in warn mode it is admitted with warnings and the reason": {
			prober: missing, mode: ProbeWarn,
			want: []map[string]string{{AuditVerdict: VerdictWarned, AuditProbe: "BucketNotFound", AuditProbeCached: "false"}},
		},
		"with the probe off it says the probe did not run": {
			prober: missing, mode: ProbeOff,
			want: []map[string]string{{AuditVerdict: VerdictAllowed, AuditProbe: AuditProbeNotRun}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := &Validator{Secrets: goodSecret, Prober: tc.prober, ProbeMode: tc.mode}
			for i, want := range tc.want {
				resp := v.Handle(t.Context(), request(admissionv1.Create, store(), nil))
				if diff := cmp.Diff(want, resp.AuditAnnotations); diff != "" {
					t.Errorf("request %d: audit annotations (-want +got):\n%s", i+1, diff)
				}
			}
		})
	}
}

// gitIndex is a StoreIndex of GitStateStores only: namespace/name of a Secret to them.
type gitIndex map[string][]v1alpha1.GitStateStore

func (f gitIndex) GitStoresUsingSecret(_ context.Context, namespace, name string) ([]v1alpha1.GitStateStore, bool, error) {
	return f[namespace+"/"+name], true, nil
}

func (gitIndex) StoresUsingSecret(_ context.Context, _, _ string) ([]v1alpha1.BucketStateStore, bool, error) {
	return nil, true, nil
}

func TestSecretGuardGit(t *testing.T) {
	creds := func(password string) *corev1.Secret {
		s := secret(map[string]string{v1alpha1.SecretKeyUsername: "bot", v1alpha1.SecretKeyPassword: password})
		s.Namespace, s.Name = "team", "git"
		return s
	}
	index := gitIndex{"team/git": {{ObjectMeta: metav1.ObjectMeta{Name: "g"}, Spec: v1alpha1.GitStateStoreSpec{
		URL: "https://git.example.com/state.git", StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: "git", Namespace: "team"}},
	}}}}
	audit := func(verdict, finding string) map[string]string {
		return map[string]string{AuditVerdict: verdict, AuditGuard: finding}
	}
	cases := map[string]struct {
		mode     GuardMode
		old, new *corev1.Secret
		want     answer
	}{
		"deleting a Secret a GitStateStore uses names the store": {
			mode: GuardWarn, old: creds("token"),
			want: answer{Allowed: true, Warnings: []string{`deleting Secret team/git breaks GitStateStore(s) "g": Kratix reads their credentials from it; point their spec.secretRef at another Secret first`}, Audit: audit(VerdictWarned, GuardFindingBreaks)},
		},
		"a new password with a trailing newline is refused in deny mode (Kratix #624)": {
			mode: GuardDeny, old: creds("token"), new: creds("token2\n"),
			want: answer{Message: `secrets "git" is forbidden: this update of Secret team/git breaks GitStateStore "g": ` + messageTrailingWhitespace("password", "team/git", "a newline", "the server refuses the credentials"), Audit: audit(VerdictDenied, GuardFindingBreaks)},
		},
		"a new password that passes the Secret checks is safe without a Git prober": {
			mode: GuardDeny, old: creds("token"), new: creds("token2"),
			want: answer{Allowed: true, Audit: audit(VerdictAllowed, GuardFindingSafe)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := &SecretGuard{Stores: index, Mode: tc.mode, Budget: time.Second, Parallel: 1}
			op := admissionv1.Delete
			if tc.new != nil {
				op = admissionv1.Update
			}
			req := ctrladmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Secret"}, Operation: op,
				Name: tc.old.Name, Namespace: tc.old.Namespace, OldObject: rawOf(t, tc.old), Object: rawOf(t, tc.new),
			}}
			if tc.new == nil {
				req.Object = runtime.RawExtension{}
			}
			if diff := cmp.Diff(tc.want, answerOf(g.Handle(t.Context(), req))); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}
