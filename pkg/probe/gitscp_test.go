package probe

import "testing"

func TestParseSCPLikeReadsURLsAsGitDoes(t *testing.T) {
	for name, c := range map[string]struct {
		raw         string
		want        SCPLikeURL
		wantProblem bool
	}{
		"a host and a path":                        {raw: "git@github.com:org/repo.git", want: SCPLikeURL{User: "git", Host: "github.com", Path: "org/repo.git"}},
		"a number at the path's start is a path":   {raw: "git@host:2222/repo.git", want: SCPLikeURL{User: "git", Host: "host", Path: "2222/repo.git"}},
		"an IPv6 address in brackets":              {raw: "git@[::1]:org/repo.git", want: SCPLikeURL{User: "git", Host: "::1", Path: "org/repo.git"}},
		"a host and port in brackets":              {raw: "git@[git.example.com:2222]:org/repo.git", want: SCPLikeURL{User: "git", Host: "git.example.com", Port: "2222", Path: "org/repo.git"}},
		"an IPv6 address and port in brackets":     {raw: "git@[::1]:2222:org/repo.git", want: SCPLikeURL{User: "git", Host: "::1", Path: "2222:org/repo.git"}},
		"a slash before the colon is a local path": {raw: "git@127.0.0.1/platform:state.git", wantProblem: true},
		"no colon":                          {raw: "git@host/repo.git", wantProblem: true},
		"no path":                           {raw: "git@host:", wantProblem: true},
		"no host":                           {raw: "git@:repo.git", wantProblem: true},
		"a bracket not followed by a colon": {raw: "git@[::1]/repo.git", wantProblem: true},
		"a port out of range in brackets":   {raw: "git@[host:70000]:repo.git", wantProblem: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, problem := ParseSCPLike(c.raw)
			if (problem != "") != c.wantProblem {
				t.Fatalf("ParseSCPLike(%q) problem %q, want a problem: %v", c.raw, problem, c.wantProblem)
			}
			if !c.wantProblem && got != c.want {
				t.Errorf("ParseSCPLike(%q) = %+v, want %+v", c.raw, got, c.want)
			}
		})
	}
}
