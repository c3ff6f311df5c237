package certmanager

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kratix-community/statestore-webhook/internal/release"
)

// TestReleaseCarriesOneVersion makes a release of a copy of the tree, as make release
// does, and checks that the rendered file and the packaged chart deploy the same image,
// tagged with the version, that the chart carries the version, and that the API server
// takes the rendered file as it is.
func TestReleaseCarriesOneVersion(t *testing.T) {
	tree := t.TempDir()
	for _, dir := range []string{"manifests", release.ChartDir} {
		must(t, os.CopyFS(filepath.Join(tree, dir), os.DirFS(filepath.Join(env.Root, dir))))
	}
	v, err := release.ParseVersion("v9.8.7-rc.1")
	must(t, err)
	rendered, packaged, err := release.Build(tree, filepath.Join(tree, "dist"), v)
	if err != nil {
		t.Fatalf("release.Build: %v", err)
	}
	want := release.ImageName + ":" + v.Tag

	ch := loadChart(t, packaged)
	if ch.Metadata.Version != "9.8.7-rc.1" || ch.Metadata.AppVersion != v.Tag {
		t.Errorf("the packaged chart has version %q and appVersion %q, want %q and %q", ch.Metadata.Version, ch.Metadata.AppVersion, "9.8.7-rc.1", v.Tag)
	}
	if got := deploymentImage(t, renderChart(t, ch, defaultRelease, defaultNamespace, nil)); got != want {
		t.Errorf("the packaged chart deploys %s, want %s", got, want)
	}
	b, err := os.ReadFile(rendered)
	must(t, err)
	objs := decode(t, string(b))
	if got := deploymentImage(t, objs); got != want {
		t.Errorf("%s deploys %s, want %s", release.RenderedFile, got, want)
	}

	createNamespace(t, defaultNamespace)
	res := kubectl(t, string(b), "apply", "--server-side", "--dry-run=server", "--validate=strict", "--field-manager="+fieldManager, "-f", "-")
	if res.Exit != 0 || res.Stderr != "" {
		t.Fatalf("kubectl apply --server-side --dry-run=server -f %s: exit %d, want 0 and no warnings; stderr:\n%s", release.RenderedFile, res.Exit, res.Stderr)
	}
}

// deploymentImage is the image of the one container of the one Deployment in objs.
func deploymentImage(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var images []string
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			image, _, _ := unstructured.NestedString(c.(map[string]any), "image")
			images = append(images, image)
		}
	}
	if len(images) != 1 {
		t.Fatalf("found the images %v, want one Deployment with one container", images)
	}
	return images[0]
}

// TestDeployRendersTheImageGiven renders manifests/default as make deploy IMG=... does,
// for each form an image reference takes, and checks the Deployment runs exactly it.
func TestDeployRendersTheImageGiven(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for image, want := range map[string]string{
		"registry.example:5000/me/webhook:dev":       "registry.example:5000/me/webhook:dev",
		"registry.example:5000/me/webhook@" + digest: "registry.example:5000/me/webhook@" + digest,
		"registry.example/me/webhook:dev@" + digest:  "registry.example/me/webhook:dev@" + digest,
		"registry.example:5000/me/webhook":           "registry.example:5000/me/webhook:latest",
		release.ImageName + ":v0.0.0-dev":            release.ImageName + ":v0.0.0-dev",
	} {
		t.Run(image, func(t *testing.T) {
			out, err := release.Render(env.Root, release.DefaultManifests, image)
			if err != nil {
				t.Fatalf("release.Render with %s: %v", image, err)
			}
			if got := deploymentImage(t, decode(t, string(out))); got != want {
				t.Errorf("make deploy IMG=%s deploys %s, want %s", image, got, want)
			}
		})
	}
}
