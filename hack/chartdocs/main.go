// Command chartdocs writes the Helm chart's README.md from its values.yaml, as helm-docs
// does: every value whose comment starts with "# --" is a row (key, type, default,
// description), and every value must have one, itself or above it. Its test fails when
// README.md differs from what it would write.
//
//	go run ./hack/chartdocs
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/release"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	readme, err := generate(filepath.Join(root, release.ChartDir))
	if err == nil {
		err = os.WriteFile(filepath.Join(root, release.ChartDir, "README.md"), readme, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartdocs:", err)
		os.Exit(1)
	}
}

// row is one documented value.
type row struct{ key, typ, def, desc string }

// generate returns the README of the chart in dir.
func generate(dir string) ([]byte, error) {
	chartYAML, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var meta struct{ Name, Description string }
	if err := sigsyaml.Unmarshal(chartYAML, &meta); err != nil {
		return nil, err
	}
	values, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	doc, err := yaml.Parse(string(values))
	if err != nil {
		return nil, err
	}
	rows, err := walk(doc.YNode(), "")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", meta.Name, meta.Description)
	b.WriteString("Installing, upgrading and uninstalling: [docs/operating.md](../../docs/operating.md).\n")
	b.WriteString("This file is generated from `values.yaml` by `go run ./hack/chartdocs`; its test fails\nwhen they differ.\n\n")
	b.WriteString("## Values\n\n| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", r.key, r.typ, cell(r.def), cell(r.desc))
	}
	return b.Bytes(), nil
}

// walk returns the rows of the mapping n, whose keys are under prefix.
func walk(n *yaml.Node, prefix string) ([]row, error) {
	var rows []row
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		// The "# --" block may follow other comment lines (a commented-out example).
		if i := strings.LastIndex(k.HeadComment, "# --"); i >= 0 {
			desc := k.HeadComment[i+len("# --"):]
			def, err := compact(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			rows = append(rows, row{key: key, typ: typeOf(v), def: def, desc: uncomment(desc)})
			continue
		}
		if v.Kind == yaml.MappingNode && len(v.Content) > 0 {
			sub, err := walk(v, key+".")
			errs = append(errs, err)
			rows = append(rows, sub...)
			continue
		}
		errs = append(errs, fmt.Errorf("%s has no \"# --\" comment: document it", key))
	}
	return rows, errors.Join(errs...)
}

// uncomment joins the lines of a comment block without their "#".
func uncomment(c string) string {
	var words []string
	for _, line := range strings.Split(c, "\n") {
		words = append(words, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#")))
	}
	return strings.TrimSpace(strings.Join(words, " "))
}

// typeOf names the YAML type of a value.
func typeOf(v *yaml.Node) string {
	switch {
	case v.Kind == yaml.MappingNode:
		return "object"
	case v.Kind == yaml.SequenceNode:
		return "list"
	case v.Tag == "!!int":
		return "int"
	case v.Tag == "!!bool":
		return "bool"
	case v.Tag == "!!null":
		return "null"
	default:
		return "string"
	}
}

// compact is v as one line of JSON.
func compact(v *yaml.Node) (string, error) {
	var x any
	if err := v.Decode(&x); err != nil {
		return "", err
	}
	b, err := json.Marshal(x)
	return string(b), err
}

// cell escapes a table cell's pipes.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
