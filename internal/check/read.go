package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Stdin is the argument that reads standard input, and how findings name it.
const Stdin = "-"

// maxInputSize bounds one file or standard input. Manifests are far smaller; a larger
// input is almost certainly not one.
const maxInputSize = 64 << 20

// extensions are the files a directory is searched for.
var extensions = []string{".yaml", ".yml", ".json"}

// InputError is an input the command cannot read: a missing file, a document that is
// not YAML, or one that is not an object. Line is 0 when the whole file is concerned.
type InputError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (e InputError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Message)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
}

// expandPaths turns the arguments into the files to read, in order: a file as given, a
// directory's .yaml, .yml and .json files recursively in lexical order (skipping
// directories whose names start with a dot, such as .git), and "-" for standard input.
func expandPaths(args []string) ([]string, []InputError) {
	var files []string
	var errs []InputError
	for _, arg := range args {
		if arg == Stdin {
			files = append(files, Stdin)
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, InputError{File: arg, Message: pathError(err)})
			continue
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, InputError{File: path, Message: pathError(err)})
				return nil
			}
			if d.IsDir() {
				if path != arg && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			for _, ext := range extensions {
				if strings.HasSuffix(d.Name(), ext) {
					files = append(files, path)
					break
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, InputError{File: arg, Message: pathError(err)})
		}
	}
	return files, errs
}

// pathError is err without the path, which the InputError already names.
func pathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// readInput reads a whole file, or standard input for "-", up to maxInputSize.
func readInput(file string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if file != Stdin {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInputSize {
		return nil, fmt.Errorf("larger than %d MiB; is it a manifest?", maxInputSize>>20)
	}
	return data, nil
}

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
		return nil, &InputError{File: d.file, Line: d.line, Message: "the document is not an object; a manifest is a mapping with apiVersion, kind and metadata"}
	}
	var meta struct {
		typeMeta
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(j, &meta); err != nil {
		return nil, &InputError{File: d.file, Line: d.line, Message: "not a Kubernetes object: " + err.Error()}
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
