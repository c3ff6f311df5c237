package text

import (
	"strings"
	"testing"
)

func TestCut(t *testing.T) {
	cases := map[string]struct {
		s    string
		n    int
		want string
	}{
		"a string within the limit is kept":            {s: "store", n: MaxLabel, want: "store"},
		"a string at the limit is kept":                {s: strings.Repeat("a", MaxLabel), n: MaxLabel, want: strings.Repeat("a", MaxLabel)},
		"a longer string is cut and marked":            {s: strings.Repeat("a", 100), n: 10, want: "aaaaaaa..."},
		"a cut does not split a character":             {s: "aaaaaaé" + strings.Repeat("b", 10), n: 10, want: "aaaaaa..."},
		"a limit below the marker gives the marker":    {s: "abcdef", n: 2, want: "..."},
		"a huge name is cut to a DNS subdomain's size": {s: strings.Repeat("n", 3<<20), n: MaxName, want: strings.Repeat("n", MaxName-3) + "..."},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Cut(c.s, c.n); got != c.want {
				t.Errorf("Cut(%.20q..., %d) = %q, want %q", c.s, c.n, got, c.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	cases := map[string]struct {
		s    string
		want string
	}{
		"a short value is quoted":                   {s: "Kratix", want: `"Kratix"`},
		"a long value is cut inside the quotes":     {s: strings.Repeat("x", 100), want: `"` + strings.Repeat("x", MaxQuoted-5) + `..."`},
		"an escape is not split":                    {s: strings.Repeat("x", MaxQuoted-6) + "\n" + strings.Repeat("y", 10), want: `"` + strings.Repeat("x", MaxQuoted-6) + `..."`},
		"control characters are escaped as %q does": {s: "a\x1b[31m", want: `"a\x1b[31m"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := Quote(c.s, MaxQuoted)
			if got != c.want {
				t.Errorf("Quote(%q) = %s, want %s", c.s, got, c.want)
			}
			if len(got) > MaxQuoted {
				t.Errorf("Quote(%q) is %d bytes, more than %d", c.s, len(got), MaxQuoted)
			}
		})
	}
}
