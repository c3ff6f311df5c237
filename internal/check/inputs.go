package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Stdin is the argument that reads standard input, and how findings name it unless
// Inputs.StdinName names it.
const Stdin = "-"

// maxInputSize bounds one file or standard input. Manifests are far smaller; a larger
// input is almost certainly not one.
const maxInputSize = 64 << 20

// maxRunSize bounds all the inputs of one run together, so that many large files cannot
// take the memory that one cannot.
const maxRunSize = 128 << 20

// extensions are the files a directory is searched for.
var extensions = []string{".yaml", ".yml", ".json"}

// Inputs says which files a check reads, and what it makes of files that are not
// Kubernetes manifests.
type Inputs struct {
	// Include, when set, are the glob patterns (with ** for any number of directories) a
	// file must match to be read; Exclude are those it must not match. They are matched
	// against the path as findings name it, with / separators. Standard input is always
	// read.
	Include, Exclude []string
	// Strict makes an input that is not a Kubernetes manifest (a template, a JSON patch,
	// a values file) an error instead of a notice.
	Strict bool
	// StdinName is how findings name standard input; empty means "-".
	StdinName string
	// MaxTotal bounds the bytes read in one run; 0 means maxRunSize.
	MaxTotal int64
}

// InputError is an input the command cannot read, or one it skipped: a missing file, a
// document that is not YAML, or one that is not an object. Line is 0 when the whole file
// is concerned.
type InputError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`

	// notManifest says the input is not a Kubernetes manifest: skipped unless Strict.
	notManifest bool
}

func (e InputError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Message)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
}

// ValidatePatterns reports a malformed --include or --exclude pattern.
func (in *Inputs) ValidatePatterns() error {
	var errs []error
	for flag, patterns := range map[string][]string{"--include": in.Include, "--exclude": in.Exclude} {
		for _, p := range patterns {
			if !doublestar.ValidatePattern(p) {
				errs = append(errs, fmt.Errorf("%s: %q is not a valid glob pattern", flag, p))
			}
		}
	}
	return errors.Join(errs...)
}

// selected says whether the include and exclude patterns let path be read.
func (in *Inputs) selected(path string) bool {
	name := filepath.ToSlash(filepath.Clean(path))
	match := func(patterns []string) bool {
		for _, p := range patterns {
			if doublestar.MatchUnvalidated(p, name) {
				return true
			}
		}
		return false
	}
	return (len(in.Include) == 0 || match(in.Include)) && !match(in.Exclude)
}

// expandPaths turns the arguments into the files to read, in order: a file as given, a
// directory's .yaml, .yml and .json files recursively in lexical order (skipping
// directories whose names start with a dot, such as .git), and "-" for standard input.
// Files the patterns leave out are dropped. In a directory, what is not a regular file
// (a named pipe, a socket, a device, a link to one) is skipped, since reading it could
// block forever; a file named as an argument is read whatever it is, so that
// `<(kustomize build)` works.
func (in *Inputs) expandPaths(ctx context.Context, args []string) (files []string, errs, skipped []InputError) {
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
			if in.selected(arg) {
				files = append(files, arg)
			}
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
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
			if !hasExtension(d.Name()) || !in.selected(path) {
				return nil
			}
			info, err := os.Stat(path) // follows a link, as reading it would
			if err != nil {
				errs = append(errs, InputError{File: path, Message: pathError(err)})
				return nil
			}
			if !info.Mode().IsRegular() {
				skipped = append(skipped, InputError{File: path, Message: "skipped: not a regular file but " + fileType(info.Mode())})
				return nil
			}
			files = append(files, path)
			return nil
		})
		if err != nil && ctx.Err() == nil {
			errs = append(errs, InputError{File: arg, Message: pathError(err)})
		}
	}
	return files, errs, skipped
}

func hasExtension(name string) bool {
	for _, ext := range extensions {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// fileType names what a file that is not a regular file is.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	default:
		return "a special file"
	}
}

// pathError is err without the path, which the InputError already names.
func pathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// errRunTooLarge is the error of the input that takes a run past its bound.
var errRunTooLarge = fmt.Errorf("the inputs of this run together are larger than %d MiB; check them in several runs", maxRunSize>>20)

// readInput reads a whole file, or standard input for "-", up to maxInputSize and at most
// budget bytes.
func readInput(file string, stdin io.Reader, budget int64) ([]byte, error) {
	r := stdin
	if file != Stdin {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	limit := min(budget, maxInputSize)
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		if limit < maxInputSize {
			return nil, errRunTooLarge
		}
		return nil, fmt.Errorf("larger than %d MiB; is it a manifest?", maxInputSize>>20)
	}
	return data, nil
}

// templateAction finds the line of a Go template's action, as in a Helm chart's
// templates, or returns 0.
func templateAction(data []byte) int {
	i := bytes.Index(data, []byte("{{"))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}
