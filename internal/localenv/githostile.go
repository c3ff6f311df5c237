package localenv

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
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

// StartGitHostile serves h over HTTPS on a free port of 127.0.0.1, with a certificate
// nobody trusts: a GitStateStore reaches it with insecure unset or true (Kratix's
// default for Git, which skips verification), since Kratix takes only https:// URLs for
// basicAuth and githubApp.
func StartGitHostile(h http.Handler) *Hostile {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return &Hostile{Endpoint: srv.Listener.Addr().String(), srv: srv.Config}
}
