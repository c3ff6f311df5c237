package check

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// document is one YAML or JSON document of an input.
type document struct {
	file string
	// start is the line of the document's first byte, and line the line of its first
	// content: what is not blank, a comment or a directive. Both count from 1.
	start, line int
	raw         []byte
	// lines finds the line of a field; it parses raw once, when first asked.
	lines *lineIndex
}

const separator = "---"

// splitDocuments splits an input at "---" lines, the way kubectl's YAML reader does, and
// notes the line each document starts on. Documents holding nothing but blank lines and
// comments are dropped, as kubectl drops them.
func splitDocuments(file string, data []byte) ([]*document, *InputError) {
	var docs []*document
	start, n := 1, 0
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			if line := contentLine(cur); line > 0 {
				docs = append(docs, &document{file: file, start: start, line: start + line - 1, raw: cur})
			}
		}
		cur = nil
	}
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i+1], data[i+1:]
		}
		if rest, ok := bytes.CutPrefix(line, []byte(separator)); ok {
			if trimmed := bytes.TrimSpace(rest); len(trimmed) > 0 && trimmed[0] != '#' {
				return nil, &InputError{File: file, Line: n, Message: fmt.Sprintf("not valid YAML: invalid document separator %q", string(bytes.TrimSpace(line)))}
			}
			flush()
			start = n + 1
			continue
		}
		if cur == nil {
			start = n
		}
		cur = append(cur, line...)
	}
	flush()
	return docs, nil
}

// contentLine is the line (from 1) of the first line of doc that holds content, or 0
// when it has none.
func contentLine(doc []byte) int {
	for n := 1; len(doc) > 0; n++ {
		line := doc
		if i := bytes.IndexByte(doc, '\n'); i >= 0 {
			line, doc = doc[:i], doc[i+1:]
		} else {
			doc = nil
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 && trimmed[0] != '#' && trimmed[0] != '%' {
			return n
		}
	}
	return 0
}

// object is one object of a document: the document itself, or an item of a List.
type object struct {
	doc *document
	// path leads from the document to the object: nil, or "items", "3".
	path []string
	line int
	json []byte
	kind typeMeta
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// yamlLine finds the line number in a YAML parser's error message.
var yamlLine = regexp.MustCompile(`^(?:error converting YAML to JSON: )?yaml: line (\d+): `)

// objects parses a document into its objects. It converts YAML to JSON as kubectl does
// (sigs.k8s.io/yaml), so values mean what they mean to kubectl: "insecure: yes" is true.
// A List's items are objects of their own.
func (d *document) objects() ([]object, *InputError) {
	j, err := yaml.YAMLToJSON(d.raw)
	if err != nil {
		msg, line := err.Error(), d.line
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			line, msg = d.start+n-1, msg[len(m[0]):]
		}
		return nil, &InputError{File: d.file, Line: line, Message: "not valid YAML: " + msg}
	}
	j = bytes.TrimSpace(j)
	if bytes.Equal(j, []byte("null")) {
		return nil, nil
	}
	if len(j) == 0 || j[0] != '{' {
		msg := "the document is not an object; a manifest is a mapping with apiVersion, kind and metadata"
		if isJSONPatch(j) {
			msg = "the document is a JSON patch (as kustomize applies), not a Kubernetes object"
		}
		return nil, &InputError{File: d.file, Line: d.line, Message: msg, notManifest: true}
	}
	var meta struct {
		typeMeta
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(j, &meta); err != nil {
		return nil, &InputError{File: d.file, Line: d.line, Message: "not a Kubernetes object: " + err.Error()}
	}
	if meta.APIVersion == "" || meta.Kind == "" {
		return nil, &InputError{File: d.file, Line: d.line, Message: "the document has no apiVersion or no kind, so it is not a Kubernetes object (a values or configuration file?)", notManifest: true}
	}
	if !isList(meta.typeMeta) {
		return []object{{doc: d, line: d.line, json: j, kind: meta.typeMeta}}, nil
	}
	objs := make([]object, 0, len(meta.Items))
	for i, item := range meta.Items {
		path := []string{"items", strconv.Itoa(i)}
		line := d.lineOf(path)
		var tm typeMeta
		if item = bytes.TrimSpace(item); len(item) == 0 || item[0] != '{' || json.Unmarshal(item, &tm) != nil {
			return nil, &InputError{File: d.file, Line: line, Message: fmt.Sprintf("items[%d] is not an object", i)}
		}
		objs = append(objs, object{doc: d, path: path, line: line, json: item, kind: tm})
	}
	return objs, nil
}

// isJSONPatch says whether j, a JSON document, is an RFC 6902 patch: a list of
// operations, each with an op and a path.
func isJSONPatch(j []byte) bool {
	var ops []struct {
		Op   *string `json:"op"`
		Path *string `json:"path"`
	}
	if json.Unmarshal(j, &ops) != nil || len(ops) == 0 {
		return false
	}
	for _, op := range ops {
		if op.Op == nil || op.Path == nil {
			return false
		}
	}
	return true
}

// isList says whether kubectl would apply the object's items instead of the object: a
// v1 List, as `kubectl get -o yaml` prints, or a typed list such as BucketStateStoreList.
func isList(tm typeMeta) bool {
	return strings.HasSuffix(tm.Kind, "List")
}

// fieldLine is the line of a field of o, given as a path such as "spec.secretRef.name":
// the line of the deepest part of the path the document has.
func (o object) fieldLine(fieldPath string) int {
	path := append(append([]string(nil), o.path...), strings.Split(fieldPath, ".")...)
	return o.doc.lineOf(path)
}

// lineOf is the line of the deepest node of the document along path, or the
// document's first line.
func (d *document) lineOf(path []string) int {
	if d.lines == nil {
		d.lines = newLineIndex(d.raw)
	}
	if n := d.lines.find(path); n > 0 {
		return d.start + n - 1
	}
	return d.line
}

// inputs is what reading the arguments gave.
type inputs struct {
	// files is how many files (or standard input) were read.
	files int
	// objs are the objects a check needs: the BucketStateStores and the Secrets. Others
	// are dropped as soon as they are parsed, so that memory holds only what is checked.
	objs    []object
	errs    []InputError
	skipped []InputError
}

// read reads the files the arguments name (see expandPaths; "-" reads stdin) into their
// objects. It stops early when ctx is done or the run's inputs grow past MaxTotal.
func (in *Inputs) read(ctx context.Context, args []string, stdin io.Reader) inputs {
	files, errs, skipped := in.expandPaths(ctx, args)
	r := inputs{errs: errs, skipped: skipped}
	budget := in.MaxTotal
	if budget <= 0 {
		budget = maxRunSize
	}
	notManifest := func(e InputError) {
		if in.Strict {
			r.errs = append(r.errs, e)
			return
		}
		e.Message = "skipped: " + e.Message + "; --strict makes this an error"
		r.skipped = append(r.skipped, e)
	}
	for _, file := range files {
		if ctx.Err() != nil {
			return r
		}
		name := file
		if file == Stdin && in.StdinName != "" {
			name = in.StdinName
		}
		r.files++
		data, err := readInput(file, stdin, budget)
		if err != nil {
			r.errs = append(r.errs, InputError{File: name, Message: pathError(err)})
			if err == errRunTooLarge {
				return r
			}
			continue
		}
		budget -= int64(len(data))
		if line := templateAction(data); line > 0 {
			notManifest(InputError{File: name, Line: line, Message: "a template: it holds {{ }} actions; check what it renders instead, such as helm template ... | statestore-check -"})
			continue
		}
		docs, ierr := splitDocuments(name, data)
		if ierr != nil {
			r.errs = append(r.errs, *ierr)
			continue
		}
		for _, d := range docs {
			objs, ierr := d.objects()
			switch {
			case ierr != nil && ierr.notManifest:
				notManifest(*ierr)
			case ierr != nil:
				r.errs = append(r.errs, *ierr)
			}
			for _, o := range objs {
				if o.kind == secretType || isStore(o.kind) {
					r.objs = append(r.objs, o)
				}
			}
		}
	}
	return r
}

// The kinds a check reads.
var (
	secretType = typeMeta{APIVersion: "v1", Kind: "Secret"}
)
