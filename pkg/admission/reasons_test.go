package admission

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// TestReferenceReasonsTableIsTheReasonTable holds docs/reference.md's table of reasons to
// probe.ReasonTable: a row for each reason but OK, in its order, with the field a denial
// of each kind of store is on (as its probeError puts it; "-" for a reason its probe
// never gives), whether the Secret guard denies a change for it, and what to do.
func TestReferenceReasonsTableIsTheReasonTable(t *testing.T) {
	md, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, tb := range testkit.MarkdownTables(string(md)) {
		if cmp.Equal(tb.Header, []string{"Reason", "BucketStateStore field", "GitStateStore field", "Denies a Secret change", "What to do"}) {
			got = tb.Rows
		}
	}
	var want [][]string
	var rows strings.Builder
	for _, info := range probe.ReasonTable {
		if info.Reason == probe.ReasonOK {
			continue
		}
		denies := "no"
		if info.RefusesCredentials {
			denies = "yes"
		}
		row := []string{"`" + string(info.Reason) + "`", bucketReasonField(info), gitReasonField(info.Reason), denies, info.Fix}
		want = append(want, row)
		fmt.Fprintf(&rows, "| %s |\n", strings.Join(row, " | "))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/reference.md's reasons table (-from probe.ReasonTable +docs):\n%s\nthe rows:\n%s", diff, rows.String())
	}
}

// bucketReasonField is the BucketStateStore field cell of a reason: the field
// probeError puts it on, for an accessKey store and, where that differs, for an IAM
// store; "-" for a reason only a Git probe gives.
func bucketReasonField(info probe.ReasonInfo) string {
	if strings.HasPrefix(info.Fix, "Git:") {
		return "-"
	}
	fieldOf := func(authMethod string) string {
		s := newBucketStore(store(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = authMethod }))
		s.setDefaults()
		return s.probeError(field.NewPath("spec"), &probe.Failure{Reason: info.Reason}).Field
	}
	accessKey, iam := fieldOf(v1alpha1.AuthMethodAccessKey), fieldOf(v1alpha1.AuthMethodIAM)
	if accessKey == iam {
		return "`" + accessKey + "`"
	}
	return fmt.Sprintf("`%s`; `%s` for IAM", accessKey, iam)
}

// gitReasonField is the GitStateStore field cell of a reason: the field probeError puts
// it on; "-" for a reason a Git probe never gives (probe.GitReasons).
func gitReasonField(reason probe.Reason) string {
	if !slices.Contains(probe.GitReasons, reason) {
		return "-"
	}
	s := newGitStore(&v1alpha1.GitStateStore{Spec: *validGitSpec()})
	s.setDefaults()
	return "`" + s.probeError(field.NewPath("spec"), &probe.Failure{Reason: reason}).Field + "`"
}

// TestEveryReasonIsInTheTableOnce keeps probe.Info from falling back to Unknown's meaning
// for a reason that was declared but not put in the table.
func TestEveryReasonIsInTheTableOnce(t *testing.T) {
	seen := map[probe.Reason]bool{}
	for _, info := range probe.ReasonTable {
		if seen[info.Reason] {
			t.Errorf("reason %s is in probe.ReasonTable twice", info.Reason)
		}
		seen[info.Reason] = true
		if info.Reason != probe.ReasonOK && (info.Part == "" || info.Fix == "") {
			t.Errorf("reason %s has no part or no fix in probe.ReasonTable", info.Reason)
		}
	}
}

// TestReferenceListsTheGitReasons holds probe.GitReasons to the table, where it must hold
// every reason whose advice starts with "Git:", in the table's order, and to the
// reference, which lists the others, those Git stores share with buckets.
func TestReferenceListsTheGitReasons(t *testing.T) {
	var inTable []probe.Reason
	for _, info := range probe.ReasonTable {
		if strings.HasPrefix(info.Fix, "Git:") || slices.Contains(probe.GitReasons, info.Reason) {
			inTable = append(inTable, info.Reason)
		}
	}
	if diff := cmp.Diff(inTable, probe.GitReasons); diff != "" {
		t.Errorf("probe.GitReasons (+) is not the table's Git reasons in its order (-):\n%s", diff)
	}

	md, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, found := strings.Cut(string(md), "also get these of the others:")
	list, _, ended := strings.Cut(rest, "(`probe.GitReasons`)")
	if !found || !ended {
		t.Fatal("docs/reference.md no longer lists the reasons Git stores share with buckets")
	}
	var documented, shared []probe.Reason
	for _, m := range regexp.MustCompile("`(\\w+)`").FindAllStringSubmatch(list, -1) {
		documented = append(documented, probe.Reason(m[1]))
	}
	for _, reason := range probe.GitReasons {
		if !strings.HasPrefix(probe.Info(reason).Fix, "Git:") {
			shared = append(shared, reason)
		}
	}
	if diff := cmp.Diff(shared, documented); diff != "" {
		t.Errorf("docs/reference.md's reasons Git stores share (-from probe.GitReasons +docs):\n%s", diff)
	}
}
