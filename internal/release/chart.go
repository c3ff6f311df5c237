package release

import (
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// TemplateOptions are what `helm template` is told beside the chart and its values.
type TemplateOptions struct {
	// KubeVersion is the cluster's version; nil renders as Helm does with no cluster
	// (it assumes v1.20.0).
	KubeVersion *chartutil.KubeVersion
	// APIVersions are served beside Helm's defaults (--api-versions).
	APIVersions []string
	// SkipSchemaValidation renders values that values.schema.json refuses, to see what
	// the templates would make of them.
	SkipSchemaValidation bool
}

// Rendered is what `helm template` prints: the objects, and the notes `helm install`
// would show.
type Rendered struct{ Manifest, Notes string }

// Template renders ch as release name in namespace, as `helm template` does: no cluster
// is asked anything.
func Template(ch *chart.Chart, name, namespace string, values map[string]any, opts TemplateOptions) (Rendered, error) {
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = name, namespace
	install.KubeVersion = opts.KubeVersion
	install.APIVersions = opts.APIVersions
	install.SkipSchemaValidation = opts.SkipSchemaValidation
	rel, err := install.Run(ch, values)
	if err != nil {
		return Rendered{}, err
	}
	return Rendered{Manifest: rel.Manifest, Notes: rel.Info.Notes}, nil
}
