package integration

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestSecretAccessReview shows that the webhook reads a Secret only for a user who may
// read it: the webhook's own permission must not lend itself to a user who may create
// stores but not read Secrets (a confused deputy), and such a user learns nothing about
// whether the Secret exists.
func TestSecretAccessReview(t *testing.T) {
	ctx := context.Background()
	storeEditor := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "test-bucketstatestore-editor"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"platform.kratix.io"},
			Resources: []string{"bucketstatestores"},
			Verbs:     []string{"get", "list", "create", "update", "patch", "delete"},
		}},
	}
	secretReader := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "test-secret-reader", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{""},
			Resources:     []string{"secrets"},
			Verbs:         []string{"get"},
			ResourceNames: []string{fixtures.Secret},
		}},
	}
	editors := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-bucketstatestore-editors"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: storeEditor.Name},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"},
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "bob"},
		},
	}
	readers := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-secret-readers", Namespace: "default"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: secretReader.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "bob"}},
	}
	for _, obj := range []client.Object{storeEditor, secretReader, editors, readers} {
		if err := k8sClient.Create(ctx, obj); err != nil {
			t.Fatalf("creating %s: %v", obj.GetName(), err)
		}
		t.Cleanup(func() { _ = k8sClient.Delete(ctx, obj) })
	}
	// alice may create stores but not read Secrets; bob may also read the writer's Secret.
	alice, _, err := env.Kube.AddUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := env.Kube.AddUser("bob")
	if err != nil {
		t.Fatal(err)
	}

	runScenarios(t, map[string]scenario{
		"a user who may not read the Secret is denied": {
			as: alice,
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Forbidden: user "alice" may not get Secret default/minio-credentials; the webhook reads a Secret only for users who may read it themselves`},
		},
		"a user who may not read Secrets is not told whether one exists": {
			as: alice,
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: no-such-secret
`),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Forbidden: user "alice" may not get Secret default/no-such-secret; the webhook reads a Secret only for users who may read it themselves`},
		},
		"a user who may read the Secret is admitted": {
			as: bob,
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
		},
	})
}
