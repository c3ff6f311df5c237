package localenv

import (
	"fmt"
	"net/http"
)

// EndlessAdvertisement answers a Git probe's upload-pack and receive-pack requests with
// a smart-HTTP ref advertisement that never ends: a ref line after another, for refs
// that sort after refs/heads/main, as a repository with more refs than any probe reads.
// With branchFirst, refs/heads/<GitBranch> is its first ref, as in a real advertisement
// where heads sort before tags and pull requests.
func EndlessAdvertisement(branchFirst bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		service := r.URL.Query().Get("service")
		w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
		const hash = "1111111111111111111111111111111111111111"
		first := "refs/heads/aaa"
		if branchFirst {
			first = "refs/heads/" + GitBranch
		}
		if _, err := fmt.Fprintf(w, "%s0000%s", pktLine("# service="+service+"\n"),
			pktLine(hash+" "+first+"\x00report-status delete-refs ofs-delta\n")); err != nil {
			return
		}
		for i := 0; ; i++ {
			if _, err := fmt.Fprint(w, pktLine(fmt.Sprintf("%s refs/pull/%d/head\n", hash, i))); err != nil {
				return
			}
		}
	}
}

// pktLine encodes payload as one Git pkt-line.
func pktLine(payload string) string {
	return fmt.Sprintf("%04x%s", len(payload)+4, payload)
}

// StartGitHostile serves h on a free port of 127.0.0.1, as StartHostile does.
func StartGitHostile(h http.Handler) (*Hostile, error) {
	return startHostile(h)
}
