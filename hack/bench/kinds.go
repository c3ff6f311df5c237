package main

import (
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/server"
)

// storeKind is what the cached-admission (handler), API server and burst figures need of
// a kind of state store, so that one runner measures each figure for either kind, each
// against the floor of the design reading the kind's Secret.
type storeKind struct {
	// name is the kind, as titles, server.StorePaths and the floor's flags name it;
	// store describes the valid store the figures send.
	name, store string
	// secret is the Secret the kind's stores name, which the floor of the design reads.
	secret types.NamespacedName
	// server names what the probes reach; endpoint is its address (host:port) for the
	// figures whose probe is cached, and proxy, in front of it, counts the probes that
	// reach it (its Endpoint is another address for the same server).
	server, endpoint string
	proxy            *countingProxy
	// valid is a valid store of the kind at endpoint as the validating webhook sees it
	// once the defaulting webhook has run: every default explicit, TLS verified,
	// credentials from secret. The probe cache tells stores apart by path.
	valid func(name, endpoint, path string) client.Object
	// undefault takes the defaults out of a store of the kind, as a user applies it,
	// and defaulted reports whether the defaulting webhook put them back.
	undefault func(client.Object)
	defaulted func(client.Object) bool
	// breakStore makes a valid store one the webhook denies by a static rule, and
	// returns what the denial says.
	breakStore func(client.Object) string
	// noSecret, when set, is a valid store of the kind that reads no Secret, for the
	// handler's diagnostic rows: the handler's own cost without the Secret read.
	noSecret func(name, endpoint, path string) client.Object
	// burstTargetWithProbe puts the burst's p99 target on the floor plus the one probe
	// every admission of the burst must wait for, rather than on the floor alone. A Git
	// probe reads two advertisements, each a git process behind git http-backend (and
	// one round trip to a remote server in the field), several times a MinIO probe: the
	// floor, which probes nothing, does not wait for it, and the burst cannot answer
	// before it.
	burstTargetWithProbe bool
}

// bucketKind is the BucketStateStore: accessKey credentials on MinIO, reached directly
// by the figures whose probe is cached, through the counting proxy by the burst.
func bucketKind(b *benchEnv) *storeKind {
	return &storeKind{
		name: "BucketStateStore", store: "valid accessKey BucketStateStore", secret: benchSecret,
		server: "MinIO", endpoint: b.MinIO.Endpoint, proxy: b.S3Proxy,
		valid: func(name, endpoint, path string) client.Object {
			return accessKeyStore(name, endpoint, bucket, path, benchSecret)
		},
		undefault: func(obj client.Object) {
			s := obj.(*v1alpha1.BucketStateStore)
			s.Spec.Insecure, s.Spec.AuthMethod, s.Spec.SecretRef.Namespace = nil, "", ""
		},
		defaulted: func(obj client.Object) bool { return obj.(*v1alpha1.BucketStateStore).Spec.Insecure != nil },
		breakStore: func(obj client.Object) string {
			s := obj.(*v1alpha1.BucketStateStore)
			s.Spec.Endpoint = "https://" + s.Spec.Endpoint
			return "without a scheme"
		},
		noSecret: func(name, endpoint, path string) client.Object { return iamStore(name, endpoint, bucket, path) },
	}
}

// gitKind is the GitStateStore: basicAuth as localenv.GitWriter, who may push, on the
// Git server behind the counting proxy. The figures whose probe is cached name the
// proxy too, as the webhook trusts its certificate (signed by the environment's CA),
// not the Git server's own; a cached probe does not reach it.
func gitKind(b *benchEnv) *storeKind {
	return &storeKind{
		name: "GitStateStore", store: "valid basicAuth GitStateStore", secret: benchGitSecret,
		server: "the Git server", endpoint: b.GitProxy.Endpoint, proxy: b.GitProxy,
		burstTargetWithProbe: true,
		valid: func(name, endpoint, path string) client.Object {
			return basicAuthStore(name, endpoint, path, benchGitSecret)
		},
		// The CRD's schema defaults branch, authMethod and gitAuthor before any webhook
		// sees the store, so through the API server the defaulting webhook adds the
		// Secret's namespace alone; leaving the others in keeps the floor's patch (asked
		// of the webhook directly) the same as the webhook's answer there.
		undefault: func(obj client.Object) { obj.(*v1alpha1.GitStateStore).Spec.SecretRef.Namespace = "" },
		defaulted: func(obj client.Object) bool { return obj.(*v1alpha1.GitStateStore).Spec.SecretRef.Namespace != "" },
		breakStore: func(obj client.Object) string {
			s := obj.(*v1alpha1.GitStateStore)
			s.Spec.URL = strings.TrimPrefix(s.Spec.URL, "https://")
			return "must be https://host/path"
		},
	}
}

// mutatePath and validatePath are the paths of the kind's webhooks.
func (k *storeKind) mutatePath() string   { return server.StorePaths[k.name].Mutate }
func (k *storeKind) validatePath() string { return server.StorePaths[k.name].Validate }

// floorArgs are the flags that make the bare webhook the floor of the design for kinds:
// the Secret each kind's validations read, and the defaulting patch each kind's
// mutations answer with (patchFiles, by kind).
func floorArgs(kinds []*storeKind, patchFiles map[string]string) []string {
	args := []string{"--review-access"}
	for _, k := range kinds {
		args = append(args, "--get-secret="+k.name+"="+k.secret.String(), "--patch-file="+k.name+"="+patchFiles[k.name])
	}
	return args
}

// withRoute labels obj, a store, for route and names it after it; an empty route leaves
// it to the webhook.
func withRoute(obj client.Object, route string) client.Object {
	if route != "" {
		obj.SetName(obj.GetName() + "-" + route)
		obj.SetLabels(map[string]string{routeLabel: route})
	}
	return obj
}
