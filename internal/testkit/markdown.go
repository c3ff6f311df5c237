package testkit

import (
	"regexp"
	"strings"
)

// MarkdownTable is a Markdown pipe table: its header cells and the cells of each body row.
type MarkdownTable struct {
	Header []string
	Rows   [][]string
}

var separatorRow = regexp.MustCompile(`^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$`)

// MarkdownTables returns the pipe tables of md, including those indented inside list
// items: the docs' tests read the facts the docs state from them.
func MarkdownTables(md string) []MarkdownTable {
	var tables []MarkdownTable
	var cur *MarkdownTable
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			cur = nil
			continue
		}
		if separatorRow.MatchString(line) {
			continue
		}
		cells := splitRow(line)
		if cur == nil {
			tables = append(tables, MarkdownTable{Header: cells})
			cur = &tables[len(tables)-1]
			continue
		}
		cur.Rows = append(cur.Rows, cells)
	}
	return tables
}

// splitRow splits a table row on the pipes that are not escaped as \|.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			b.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// CodeSpans returns the text of each `code span` in a table cell.
func CodeSpans(cell string) []string {
	var spans []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		spans = append(spans, m[1])
	}
	return spans
}
