package localenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// IdentityFiles give the webhook its identity and permissions as shipped: its Namespace,
// ServiceAccount, ClusterRole and ClusterRoleBinding, relative to the module root.
var IdentityFiles = []string{
	"manifests/base/namespace.yaml",
	"manifests/base/service_account.yaml",
	"manifests/base/role.yaml",
	"manifests/base/role_binding.yaml",
}

// webhookTokenTTL is how long the webhook's ServiceAccount token lasts: longer than any
// test run.
const webhookTokenTTL = 24 * 60 * 60

// Apply creates each object, or replaces it when it exists.
func Apply(ctx context.Context, cl client.Client, objs ...client.Object) error {
	for _, obj := range objs {
		err := cl.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) {
			existing := obj.DeepCopyObject().(client.Object)
			if err = cl.Get(ctx, client.ObjectKeyFromObject(obj), existing); err == nil {
				obj.SetResourceVersion(existing.GetResourceVersion())
				err = cl.Update(ctx, obj)
			}
		}
		if err != nil {
			return fmt.Errorf("applying %s %q: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	return nil
}

// WebhookKubeconfig applies the objects in files (paths relative to root) as they are
// written, and writes a kubeconfig for the one ServiceAccount among them, with a token
// from the TokenRequest API. The webhook that uses it has exactly the permissions those
// files grant: a change that needs another fails the tests that run it.
func (k *Kube) WebhookKubeconfig(ctx context.Context, root string, files ...string) (string, error) {
	cl, err := client.New(k.Config, client.Options{})
	if err != nil {
		return "", err
	}
	var accounts []*unstructured.Unstructured
	for _, file := range files {
		objs, err := ReadObjects(filepath.Join(root, file))
		if err != nil {
			return "", err
		}
		for _, obj := range objs {
			if err := Apply(ctx, cl, obj.DeepCopy()); err != nil {
				return "", fmt.Errorf("%s: %w", file, err)
			}
			if obj.GetKind() == "ServiceAccount" {
				accounts = append(accounts, obj)
			}
		}
	}
	if len(accounts) != 1 {
		return "", fmt.Errorf("%v hold %d ServiceAccounts, want 1", files, len(accounts))
	}
	sa := accounts[0]
	cs, err := kubernetes.NewForConfig(k.Config)
	if err != nil {
		return "", err
	}
	ttl := int64(webhookTokenTTL)
	tr, err := cs.CoreV1().ServiceAccounts(sa.GetNamespace()).CreateToken(ctx, sa.GetName(), &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", sa.GetNamespace(), sa.GetName(), err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: k.Config.Host, CertificateAuthorityData: k.Config.CAData}
	cfg.AuthInfos["webhook"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["webhook"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "webhook"}
	cfg.CurrentContext = "webhook"
	path := filepath.Join(k.dir, "webhook-serviceaccount.kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// ReadObjects decodes every object in a YAML file, as it is written.
func ReadObjects(file string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", file, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}
