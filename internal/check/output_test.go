package check

import (
	"encoding/json"
	"encoding/xml"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// hostileStore is a store whose name, from the manifest, tries to start a workflow
// command on a line of its own, to hide a value in the log, and to send terminal escapes.
const hostileStore = "apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n" +
	"  name: \"x\\n::add-mask::secret\\r\\n::error::forged\\e[2J\\u202e\"\n" +
	"spec:\n  endpoint: https://s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n"

func TestEveryFormatEscapesWhatTheManifestControls(t *testing.T) {
	for _, format := range Outputs {
		t.Run(format, func(t *testing.T) {
			code, stdout, _ := runArgs(t, []string{"-o", format, "--stdin-filename", "::warning::f.yaml", "-"}, hostileStore)
			if code != ExitInvalid {
				t.Errorf("exit code %d, want %d", code, ExitInvalid)
			}
			for _, line := range strings.Split(stdout, "\n") {
				trimmed := strings.TrimSpace(line)
				if strings.HasPrefix(trimmed, "::add-mask::") || strings.HasPrefix(trimmed, "::error::") || strings.HasPrefix(trimmed, "::warning::") {
					t.Errorf("a line starts a workflow command the input chose: %q", line)
				}
			}
			if i := strings.IndexFunc(stdout, func(r rune) bool { return r != '\n' && r != '\t' && needsEscape(r) }); i >= 0 {
				t.Errorf("the output holds a control character at %d: %q", i, stdout)
			}
		})
	}
}

func TestJSONKeepsTheNameButEscapesItsCharacters(t *testing.T) {
	_, stdout, _ := runArgs(t, []string{"-o", "json", "-"}, hostileStore)
	var got struct{ Stores []Store }
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if want := "x\n::add-mask::secret\r\n::error::forged\x1b[2J\u202e"; len(got.Stores) != 1 || got.Stores[0].Name != want {
		t.Errorf("stores %+v, want one named %q", got.Stores, want)
	}
}

func TestTextAndGitHubEscapes(t *testing.T) {
	const name = `x\n::add-mask::secret\r\n::error::forged\x1b[2J\u202e`
	tests := map[string]struct {
		format, want string
	}{
		"text escapes the name, and a file name that would start a command gets ./": {
			format: OutputText,
			want:   "./::warning::f.yaml:6: BucketStateStore/" + name + ": spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false\n",
		},
		"github escapes properties and data as GitHub documents": {
			format: OutputGitHub,
			want:   "::error file=%3A%3Awarning%3A%3Af.yaml,line=6,title=BucketStateStore/x\\n%3A%3Aadd-mask%3A%3Asecret\\r\\n%3A%3Aerror%3A%3Aforged\\x1b[2J\\u202e::spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, stdout, _ := runArgs(t, []string{"-o", tc.format, "--summary=false", "--stdin-filename", "::warning::f.yaml", "-"}, hostileStore)
			if diff := cmp.Diff(tc.want, stdout); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEscapeControl(t *testing.T) {
	for in, want := range map[string]string{
		"plain, with é and 日本":   "plain, with é and 日本",
		"a\tb\nc\rd\x00e\x7f":    `a\tb\nc\rd\x00e\x7f`,
		"\x1b]8;;http://x\x1b\\": `\x1b]8;;http://x\x1b\`,
		"line\u2028sep\u2029":    `line\u2028sep\u2029`,
		"rlo\u202egnp.exe":       `rlo\u202egnp.exe`,
		"bad\xffutf8 and \uFFFD": `bad\xffutf8 and ` + "\uFFFD",
		"\u0085next line":        `\u0085next line`,
	} {
		if got := escapeControl(in); got != want {
			t.Errorf("escapeControl(%q) = %q, want %q", in, got, want)
		}
	}
}

// reportInput has a refused store, a store with a warning, a skipped file and an input
// error.
const reportInput = "" +
	"apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: bad\nspec:\n  endpoint: https://s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n" +
	"---\n" +
	"apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: warned\nspec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n  insecure: true\n" +
	"---\n- op: remove\n  path: /spec\n" +
	"---\nkey: [unclosed\n"

func TestJUnitReadsBack(t *testing.T) {
	for name, tc := range map[string]struct {
		args         []string
		wantFailures int
	}{
		"a refused store is a failure, a store with warnings passes": {nil, 1},
		"with --fail-on-warnings, a store with warnings fails too":   {[]string{"--fail-on-warnings"}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			_, stdout, _ := runArgs(t, append(tc.args, "-o", "junit", "--stdin-filename", "stores.yaml", "-"), reportInput)
			var got junit.Testsuites
			if err := xml.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("the output is not JUnit XML: %v\n%s", err, stdout)
			}
			if len(got.Suites) != 1 || got.Suites[0].Name != "stores.yaml" {
				t.Fatalf("want one suite named stores.yaml, got %+v", got.Suites)
			}
			s := got.Suites[0]
			if s.Tests != 4 || s.Failures != tc.wantFailures || s.Errors != 1 || s.Skipped != 1 || got.Failures != tc.wantFailures {
				t.Errorf("tests %d, failures %d (%d in all), errors %d, skipped %d; want 4, %d, 1, 1", s.Tests, s.Failures, got.Failures, s.Errors, s.Skipped, tc.wantFailures)
			}
			bad := s.Testcases[0]
			if bad.Name != "BucketStateStore/bad" || bad.Failure == nil || !strings.Contains(bad.Failure.Data, "line 6: spec.endpoint: Invalid value") {
				t.Errorf("the refused store's case is %+v, want a failure naming line 6 and the field", bad)
			}
			if w := s.Testcases[1]; w.SystemOut == nil || !strings.Contains(w.SystemOut.Data, "warning: spec.insecure is true") {
				t.Errorf("the warned store's case is %+v, want its warning in system-out", w)
			}
		})
	}
}

func TestSARIFIsValidAndReadsBack(t *testing.T) {
	_, stdout, _ := runArgs(t, []string{"-o", "sarif", "--stdin-filename", "clusters/stores.yaml", "-"}, reportInput)
	// Strict validation holds the output to the SARIF 2.1.0 JSON schema.
	report, err := sarif.FromBytes([]byte(stdout), sarif.WithStrictValidation())
	if err != nil {
		t.Fatalf("the output is not valid SARIF: %v\n%s", err, stdout)
	}
	type result struct {
		Rule, Level, File string
		Line              int
	}
	var got []result
	for _, r := range report.Runs[0].Results {
		res := result{Rule: *r.RuleID, Level: r.Level}
		if len(r.Locations) > 0 {
			pl := r.Locations[0].PhysicalLocation
			res.File = *pl.ArtifactLocation.URI
			if pl.Region != nil {
				res.Line = *pl.Region.StartLine
			}
		}
		got = append(got, res)
	}
	want := []result{
		{"invalid-store", "error", "clusters/stores.yaml", 6},
		{"store-warning", "warning", "clusters/stores.yaml", 10},
		{"input-error", "error", "clusters/stores.yaml", 23},
		{"input-skipped", "note", "clusters/stores.yaml", 20},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil || raw["version"] != "2.1.0" {
		t.Errorf("version %v (%v), want 2.1.0", raw["version"], err)
	}
}

func TestVersion(t *testing.T) {
	tests := map[string]struct {
		stamped string
		info    debug.BuildInfo
		want    string
	}{
		"a stamped version wins": {
			stamped: "v1.2.3", info: debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, want: "v1.2.3",
		},
		"go install ...@v1.2.3 records the module's version": {
			info: debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, want: "v1.2.3",
		},
		"a build in a checkout without a module version gives the commit": {
			info: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			want: "abc123-dirty",
		},
		"nothing known is dev": {
			info: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, want: "dev",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := versionOf(&tc.info)
			if tc.stamped != "" {
				got = Version(tc.stamped)
			}
			if got != tc.want {
				t.Errorf("version %q, want %q", got, tc.want)
			}
		})
	}
}
