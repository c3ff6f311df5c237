package check

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// inputErrors compares InputErrors with whether they are about a file that is not a
// manifest.
var inputErrors = cmp.AllowUnexported(InputError{})

func TestSplitDocuments(t *testing.T) {
	type doc struct{ Start, Line int }
	tests := map[string]struct {
		input   string
		want    []doc
		wantErr *InputError
	}{
		"a single document starts at its first content line, after comments": {
			input: "# a comment\n\napiVersion: v1\nkind: Secret\n",
			want:  []doc{{Start: 1, Line: 3}},
		},
		"documents after separators count the separator lines": {
			input: "---\na: 1\n---\n# header\nb: 2\n--- # trailing comment\nc: 3",
			want:  []doc{{Start: 2, Line: 2}, {Start: 4, Line: 5}, {Start: 7, Line: 7}},
		},
		"documents of only comments and blank lines are dropped, as kubectl drops them": {
			input: "# nothing\n---\n\n---\na: 1\n",
			want:  []doc{{Start: 5, Line: 5}},
		},
		"a separator followed by text is an error on its line, as kubectl reports it": {
			input:   "a: 1\n--- b: 2\n",
			wantErr: &InputError{File: "f.yaml", Line: 2, Message: `not valid YAML: invalid document separator "--- b: 2"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			docs, err := splitDocuments("f.yaml", []byte(tc.input))
			if diff := cmp.Diff(tc.wantErr, err, inputErrors); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			var got []doc
			for _, d := range docs {
				got = append(got, doc{d.start, d.line})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("documents (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDocumentObjects(t *testing.T) {
	type obj struct {
		Line       int
		APIVersion string
		Kind       string
	}
	tests := map[string]struct {
		input   string
		want    []obj
		wantErr *InputError
	}{
		"an object keeps its line and type": {
			input: "---\n# c\napiVersion: v1\nkind: Secret\n",
			want:  []obj{{3, "v1", "Secret"}},
		},
		"invalid YAML is an error on the line the parser names, counted in the file": {
			input:   "{apiVersion: v1, kind: A}\n---\nkind: x\n  bad: [\n",
			want:    []obj{{1, "v1", "A"}},
			wantErr: &InputError{File: "f.yaml", Line: 4, Message: "not valid YAML: mapping values are not allowed in this context"},
		},
		"a list is not a manifest": {
			input:   "{apiVersion: v1, kind: A}\n---\n- a\n- b\n",
			want:    []obj{{1, "v1", "A"}},
			wantErr: &InputError{File: "f.yaml", Line: 3, Message: "the document is not an object; a manifest is a mapping with apiVersion, kind and metadata", notManifest: true},
		},
		"a scalar is not a manifest": {
			input:   "just text\n",
			wantErr: &InputError{File: "f.yaml", Line: 1, Message: "the document is not an object; a manifest is a mapping with apiVersion, kind and metadata", notManifest: true},
		},
		"a kustomize JSON patch is not a manifest, and is named": {
			input:   "- op: replace\n  path: /spec/bucketName\n  value: other\n",
			wantErr: &InputError{File: "f.yaml", Line: 1, Message: "the document is a JSON patch (as kustomize applies), not a Kubernetes object", notManifest: true},
		},
		"a mapping without apiVersion and kind, such as a Helm values file, is not a manifest": {
			input:   "# values\nreplicaCount: 2\nimage:\n  tag: v1\n",
			wantErr: &InputError{File: "f.yaml", Line: 2, Message: "the document has no apiVersion or no kind, so it is not a Kubernetes object (a values or configuration file?)", notManifest: true},
		},
		"a mapping with an apiVersion but no kind, such as Chart.yaml, is not a manifest": {
			input:   "apiVersion: v2\nname: chart\n",
			wantErr: &InputError{File: "f.yaml", Line: 1, Message: "the document has no apiVersion or no kind, so it is not a Kubernetes object (a values or configuration file?)", notManifest: true},
		},
		"a List's items are objects, each on its own line": {
			input: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n- apiVersion: platform.kratix.io/v1alpha1\n  kind: BucketStateStore\n",
			want:  []obj{{4, "v1", "Secret"}, {6, "platform.kratix.io/v1alpha1", "BucketStateStore"}},
		},
		"a JSON document is read as kubectl reads it": {
			input: "{\"apiVersion\": \"v1\",\n \"kind\": \"Secret\"}\n",
			want:  []obj{{1, "v1", "Secret"}},
		},
		"an explicit null document is dropped": {
			input: "null\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			docs, ierr := splitDocuments("f.yaml", []byte(tc.input))
			if ierr != nil {
				t.Fatal(ierr)
			}
			var got []obj
			var gotErr *InputError
			for _, d := range docs {
				objs, err := d.objects()
				if err != nil {
					gotErr = err
					break
				}
				for _, o := range objs {
					got = append(got, obj{o.line, o.kind.APIVersion, o.kind.Kind})
				}
			}
			if diff := cmp.Diff(tc.wantErr, gotErr, inputErrors); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFieldLine(t *testing.T) {
	input := "# header\n---\napiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: s\nspec:\n  endpoint: x\n  secretRef:\n    name: n\n"
	docs, ierr := splitDocuments("f.yaml", []byte(input))
	if ierr != nil {
		t.Fatal(ierr)
	}
	objs, ierr := docs[0].objects()
	if ierr != nil {
		t.Fatal(ierr)
	}
	for path, want := range map[string]int{
		"spec.endpoint":            8,
		"spec.secretRef.name":      10,
		"spec.secretRef.namespace": 9, // absent: its parent's line
		"spec.bucketName":          7,
		"":                         3,
	} {
		if got := objs[0].fieldLine(path); got != want {
			t.Errorf("fieldLine(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.yaml", "a/c.yml", "a/d.json", "a/e.txt", ".git/f.yaml", "a/.hidden/g.yaml"} {
		path := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	explicit := filepath.Join(dir, "a", "e.txt")
	missing := filepath.Join(dir, "missing.yaml")
	files, errs, _ := (&Inputs{}).expandPaths(context.Background(), []string{dir, explicit, Stdin, missing})
	want := []string{
		filepath.Join(dir, "a", "c.yml"),
		filepath.Join(dir, "a", "d.json"),
		filepath.Join(dir, "b.yaml"),
		explicit, // named files are read whatever their extension
		Stdin,
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	wantErrs := []InputError{{File: missing, Message: "stat: no such file or directory"}}
	if diff := cmp.Diff(wantErrs, errs, inputErrors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
