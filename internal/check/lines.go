package check

import (
	"strconv"

	yamlv3 "go.yaml.in/yaml/v3"
)

// lineIndex finds the lines of fields in a document. The checks read values through
// sigs.k8s.io/yaml, as kubectl does, which keeps no positions; this parses the document
// a second time with yaml.v3's node API, only for the documents that get a finding.
type lineIndex struct {
	root *yamlv3.Node
}

func newLineIndex(raw []byte) *lineIndex {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(raw, &doc); err != nil || doc.Kind != yamlv3.DocumentNode || len(doc.Content) == 0 {
		return &lineIndex{}
	}
	return &lineIndex{root: doc.Content[0]}
}

// find returns the line, within the document, of the deepest node along path (mapping
// keys, or indexes of sequences), or 0 when the document has none of it.
func (x *lineIndex) find(path []string) int {
	n := x.root
	if n == nil {
		return 0
	}
	line := n.Line
	for _, part := range path {
		next, keyLine := child(n, part)
		if next == nil {
			break
		}
		n, line = next, keyLine
	}
	return line
}

// child returns the node under part, and the line that names it: a mapping key's line
// or a sequence item's.
func child(n *yamlv3.Node, part string) (*yamlv3.Node, int) {
	for n.Kind == yamlv3.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value == part {
				return n.Content[i+1], k.Line
			}
		}
	case yamlv3.SequenceNode:
		if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}
