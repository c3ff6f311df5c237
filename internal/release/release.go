package release

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/action"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Paths of what a release is made of, relative to the module root.
const (
	// ImageName is the image the manifests and the chart deploy, without a tag.
	ImageName = "ghcr.io/kratix-community/statestore-webhook"
	// BaseKustomization carries the released image tag (images[].newTag).
	BaseKustomization = "manifests/base/kustomization.yaml"
	// DefaultManifests is what the rendered file holds: the webhook with TLS from
	// cert-manager.
	DefaultManifests = "manifests/default"
	// ChartDir is the Helm chart; its Chart.yaml carries version and appVersion.
	ChartDir = "charts/statestore-webhook"
	// RenderedFile is the file of a release that `kubectl apply -f` takes.
	RenderedFile = "statestore-webhook.yaml"
)

// The lines a release rewrites. Each must occur exactly once in its file, so a stamp
// never edits a line it does not own.
var (
	newTagLine     = regexp.MustCompile(`(?m)^  newTag: .*$`)
	versionLine    = regexp.MustCompile(`(?m)^version: .*$`)
	appVersionLine = regexp.MustCompile(`(?m)^appVersion: .*$`)
)

// Version is a release version: vMAJOR.MINOR.PATCH with an optional pre-release.
type Version struct {
	// Tag is the image tag and the chart's appVersion, as given (v1.2.3).
	Tag string
	// Chart is the chart's version, semver without the v (1.2.3).
	Chart string
}

// ParseVersion accepts vX.Y.Z and vX.Y.Z-pre, the form of a Git tag that triggers the
// release workflow.
func ParseVersion(s string) (Version, error) {
	if !strings.HasPrefix(s, "v") {
		return Version{}, fmt.Errorf("version %q must start with v, as the Git tag does: v1.2.3", s)
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return Version{}, fmt.Errorf("version %q is not vMAJOR.MINOR.PATCH: %w", s, err)
	}
	if v.Metadata() != "" {
		return Version{}, fmt.Errorf("version %q has build metadata (+...), which an image tag cannot carry", s)
	}
	return Version{Tag: s, Chart: v.String()}, nil
}

// Stamp writes v into the base kustomization's image tag and the chart's version and
// appVersion under root.
func Stamp(root string, v Version) error {
	if err := rewrite(filepath.Join(root, BaseKustomization), newTagLine, "  newTag: "+v.Tag); err != nil {
		return err
	}
	chart := filepath.Join(root, ChartDir, "Chart.yaml")
	if err := rewrite(chart, versionLine, "version: "+v.Chart); err != nil {
		return err
	}
	return rewrite(chart, appVersionLine, "appVersion: "+v.Tag)
}

// rewrite replaces the one line of path that re matches with line.
func rewrite(path string, re *regexp.Regexp, line string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if n := len(re.FindAllIndex(b, -1)); n != 1 {
		return fmt.Errorf("%s has %d lines matching %q, want exactly 1", path, n, re)
	}
	return os.WriteFile(path, re.ReplaceAllLiteral(b, []byte(line)), 0o644)
}

// Render builds the kustomize directory dir, relative to root, as `kubectl kustomize`
// does. A non-empty image (name[:tag][@digest]) replaces the released one, through a
// temporary overlay rather than an edit of the tree.
func Render(root, dir, image string) (_ []byte, retErr error) {
	target, err := filepath.Abs(filepath.Join(root, dir))
	if err != nil {
		return nil, err
	}
	if image != "" {
		overlay, err := os.MkdirTemp("", "statestore-webhook-image-")
		if err != nil {
			return nil, err
		}
		defer func() { retErr = errors.Join(retErr, os.RemoveAll(overlay)) }()
		// kustomize takes a base by relative path only.
		base, err := filepath.Rel(overlay, target)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), imageOverlay(base, image), 0o644); err != nil {
			return nil, err
		}
		target = overlay
	}
	// In kubectl kustomize's order (Namespaces, RBAC and Services before the Deployment),
	// but the namespace guard and the webhook configurations first of all.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	res, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), target)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	ordered := resmap.New()
	for _, first := range []bool{true, false} {
		for _, r := range res.Resources() {
			if slices.Contains(deleteFirst, r.GetKind()) == first {
				if err := ordered.Append(r); err != nil {
					return nil, err
				}
			}
		}
	}
	return ordered.AsYaml()
}

// deleteFirst are the kinds the rendered file holds before the Namespace, because
// `kubectl delete -f` deletes in the file's order: the webhook configurations and the
// namespace guard must be gone before the Namespace, which the guard protects while they
// exist. They are cluster-scoped, so applying them first needs nothing else to exist.
var deleteFirst = []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}

// imageOverlay is a kustomization that deploys base with image instead of ImageName.
func imageOverlay(base, image string) []byte {
	name, digest, _ := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %q\nimages:\n- name: %q\n  newName: %q\n", base, ImageName, name)
	if tag == "" && digest == "" {
		tag = "latest" // what docker build -t name tags
	}
	if tag != "" {
		fmt.Fprintf(&b, "  newTag: %q\n", tag)
	}
	if digest != "" {
		fmt.Fprintf(&b, "  digest: %q\n", digest)
	}
	return b.Bytes()
}

// Build makes the release of v from the tree at root into dist: it stamps v, renders
// DefaultManifests into dist/RenderedFile and packages the chart into dist. It returns
// the paths of the two files.
func Build(root, dist string, v Version) (rendered, chart string, err error) {
	if err := Stamp(root, v); err != nil {
		return "", "", err
	}
	manifests, err := Render(root, DefaultManifests, "")
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return "", "", err
	}
	rendered = filepath.Join(dist, RenderedFile)
	header := fmt.Sprintf("# statestore-webhook %s: kubectl apply --server-side -f %s (needs cert-manager)\n", v.Tag, RenderedFile)
	if err := os.WriteFile(rendered, append([]byte(header), manifests...), 0o644); err != nil {
		return "", "", err
	}
	pkg := action.NewPackage()
	pkg.Destination = dist
	if chart, err = pkg.Run(filepath.Join(root, ChartDir), nil); err != nil {
		return "", "", fmt.Errorf("packaging the chart: %w", err)
	}
	return rendered, chart, nil
}
