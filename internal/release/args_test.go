package release

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestContainerArgsExpandsAsTheKubeletDoes(t *testing.T) {
	deployment := func(env []corev1.EnvVar, args ...string) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "platform", Name: "statestore-webhook"},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "webhook", Args: args, Env: env}},
			}}},
		}
	}
	namespace := corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}
	cases := map[string]struct {
		d       *appsv1.Deployment
		want    []string
		wantErr string
	}{
		"the downward API's namespace is the Deployment's": {
			d:    deployment([]corev1.EnvVar{namespace}, "--cert-manager-certificate=$(POD_NAMESPACE)/serving", "--probe=enforce"),
			want: []string{"--cert-manager-certificate=platform/serving", "--probe=enforce"},
		},
		"a plain value is expanded": {
			d:    deployment([]corev1.EnvVar{{Name: "MODE", Value: "warn"}}, "--probe=$(MODE)"),
			want: []string{"--probe=warn"},
		},
		"a reference with nothing to expand it is an error": {
			d:       deployment(nil, "--cert-manager-certificate=$(POD_NAMESPACE)/serving"),
			wantErr: "refers to POD_NAMESPACE",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ContainerArgs(tc.d, "webhook")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ContainerArgs: %v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ContainerArgs: %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
