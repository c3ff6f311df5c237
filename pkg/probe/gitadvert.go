package probe

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
)

// MaxRefAdvertisementBytes bounds what a Git probe reads of one ref advertisement. A
// server advertises every ref of the repository (GitHub adds two for each pull request),
// so a large repository's advertisement runs to megabytes; the probe stops reading as
// soon as it has seen the branch, and holds only the lines it keeps, never the whole
// advertisement, so this bounds the time and traffic of a probe whose branch is missing
// or comes late, not its memory. 16 MiB is some 200 000 refs.
const MaxRefAdvertisementBytes = 16 << 20

// errAdvertisementTooLarge ends the read of an advertisement longer than
// MaxRefAdvertisementBytes.
var errAdvertisementTooLarge = errors.New("ref advertisement exceeds the probe's size limit")

// readAdvertisement reads a ref advertisement from r: the smart-HTTP service line and
// its flush if any, then the first ref line, which carries the capabilities, then one
// line for each ref up to a flush-pkt. It keeps the first ref line and the line of
// want, if want is not empty, stops reading as soon as it has seen want's line, and
// returns what it kept as go-git decodes it. An empty repository gives
// packp.ErrEmptyAdvRefs, a Git server's ERR line a *pktline.ErrorLine, anything that is
// not pkt-lines an error of go-git's decoder.
func readAdvertisement(r io.Reader, want string) (*packp.AdvRefs, error) {
	limited := &capped{r: r, left: MaxRefAdvertisementBytes}
	s := pktline.NewScanner(limited)
	var kept bytes.Buffer
	enc := pktline.NewEncoder(&kept)
	refs, afterServiceLine := 0, false
	// A tag of the branch's name is kept too, so that a store naming a tag is told so.
	tag := ""
	if branch, ok := strings.CutPrefix(want, "refs/heads/"); ok {
		tag = "refs/tags/" + branch
	}
	for s.Scan() {
		p := s.Bytes()
		switch {
		case refs == 0 && kept.Len() == 0 && bytes.HasPrefix(p, []byte("#")):
			_ = enc.Encode(p) // "# service=git-upload-pack"
			afterServiceLine = true
			continue
		case len(p) == 0 && afterServiceLine:
			_ = enc.Flush()
			afterServiceLine = false
			continue
		case len(p) == 0:
			_ = enc.Flush()
			return decodeKept(&kept)
		}
		afterServiceLine = false
		refs++
		ref := refName(p)
		if refs == 1 || ref == want || (tag != "" && ref == tag) {
			_ = enc.Encode(p)
		}
		if want == "" || ref == want {
			_ = enc.Flush() // what follows is not needed
			return decodeKept(&kept)
		}
	}
	if limited.exceeded {
		return nil, errAdvertisementTooLarge
	}
	if s.Err() != nil {
		return nil, s.Err()
	}
	// The stream ended without a flush-pkt: what go-git makes of the lines so far.
	return decodeKept(&kept)
}

// decodeKept decodes the lines readAdvertisement kept with go-git.
func decodeKept(kept *bytes.Buffer) (*packp.AdvRefs, error) {
	ar := packp.NewAdvRefs()
	if err := ar.Decode(kept); err != nil {
		return nil, err
	}
	return ar, nil
}

// refName is the ref a ref line names: "<hash> <ref>" or "<hash> <ref>\x00<capabilities>".
func refName(p []byte) string {
	_, rest, ok := bytes.Cut(p, []byte(" "))
	if !ok {
		return ""
	}
	rest, _, _ = bytes.Cut(rest, []byte{0})
	return string(bytes.TrimSuffix(rest, []byte("\n")))
}

// capped reads at most left bytes of r and then fails with errAdvertisementTooLarge.
type capped struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.exceeded = true
		return 0, errAdvertisementTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
