package admission

import (
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// TestReferenceReasonsTableIsTheReasonTable holds docs/reference.md's table of reasons to
// probe.ReasonTable: a row for each reason but OK, in its order, with the field a denial
// of a BucketStateStore is on (as probeError puts it), whether the Secret guard denies a
// change for it, and what to do.
func TestReferenceReasonsTableIsTheReasonTable(t *testing.T) {
	md, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, tb := range testkit.MarkdownTables(string(md)) {
		if cmp.Equal(tb.Header, []string{"Reason", "Field", "Denies a Secret change", "What to do"}) {
			got = tb.Rows
		}
	}
	var want [][]string
	for _, info := range probe.ReasonTable {
		if info.Reason == probe.ReasonOK {
			continue
		}
		denies := "no"
		if info.RefusesCredentials {
			denies = "yes"
		}
		want = append(want, []string{"`" + string(info.Reason) + "`", reasonField(info.Reason), denies, info.Fix})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/reference.md's reasons table (-from probe.ReasonTable +docs):\n%s", diff)
	}
}

// reasonField is the Field cell of reason: the field probeError puts it on, for an
// accessKey store and, where that differs, for an IAM store.
func reasonField(reason probe.Reason) string {
	fieldOf := func(authMethod string) string {
		s := newBucketStore(store(func(s *v1alpha1.BucketStateStoreSpec) { s.AuthMethod = authMethod }))
		s.setDefaults()
		return s.probeError(field.NewPath("spec"), &probe.Failure{Reason: reason}).Field
	}
	accessKey, iam := fieldOf(v1alpha1.AuthMethodAccessKey), fieldOf(v1alpha1.AuthMethodIAM)
	if accessKey == iam {
		return "`" + accessKey + "`"
	}
	return fmt.Sprintf("`%s`; `%s` for IAM", accessKey, iam)
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
