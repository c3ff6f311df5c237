package admission

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
)

// validGitSpec is a basicAuth store over HTTPS with TLS verified that passes every
// static rule; cases change one thing.
func validGitSpec(mutate ...func(*v1alpha1.GitStateStoreSpec)) *v1alpha1.GitStateStoreSpec {
	spec := &v1alpha1.GitStateStoreSpec{
		URL:      "https://git.example.com/platform/state.git",
		Insecure: ptr.To(false),
		StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
			Path:      "destinations/",
			SecretRef: &corev1.SecretReference{Name: "git-credentials"},
		},
	}
	for _, m := range mutate {
		m(spec)
	}
	return spec
}

func TestValidateGitSpec(t *testing.T) {
	spec := field.NewPath("spec")
	url, branch, auth := spec.Child("url"), spec.Child("branch"), spec.Child("authMethod")
	ssh := func(url string) func(*v1alpha1.GitStateStoreSpec) {
		return func(s *v1alpha1.GitStateStoreSpec) { s.AuthMethod, s.URL = "ssh", url }
	}
	withURL := func(u string) func(*v1alpha1.GitStateStoreSpec) {
		return func(s *v1alpha1.GitStateStoreSpec) { s.URL = u }
	}
	withBranch := func(b string) func(*v1alpha1.GitStateStoreSpec) {
		return func(s *v1alpha1.GitStateStoreSpec) { s.Branch = ptr.To(b) }
	}
	withPath := func(p string) func(*v1alpha1.GitStateStoreSpec) {
		return func(s *v1alpha1.GitStateStoreSpec) { s.Path = p }
	}
	badBranch := func(b, problem string) field.ErrorList {
		return field.ErrorList{field.Invalid(branch, b, "must be a branch name git accepts: "+problem)}
	}
	tests := map[string]struct {
		spec         *v1alpha1.GitStateStoreSpec
		want         field.ErrorList
		wantWarnings []string
	}{
		"a basicAuth store over HTTPS is valid":               {spec: validGitSpec()},
		"an ssh store with an scp-like URL is valid":          {spec: validGitSpec(ssh("git@github.com:org/state.git"))},
		"an ssh store with an ssh:// URL and a port is valid": {spec: validGitSpec(ssh("ssh://git@git.example.com:2222/org/state.git"))},
		"a githubApp store on github.com is valid": {
			spec: validGitSpec(func(s *v1alpha1.GitStateStoreSpec) {
				s.AuthMethod, s.URL = "githubApp", "https://github.com/org/state.git"
			}),
		},
		"an explicit empty branch is valid, with a warning: Kratix uses the remote's default branch": {
			spec:         validGitSpec(withBranch("")),
			wantWarnings: []string{WarningGitBranchEmpty},
		},
		"an scp-like URL whose path starts with a number is valid, with a warning naming ssh://": {
			spec:         validGitSpec(ssh("git@git.example.com:2222/org/state.git")),
			wantWarnings: []string{fmt.Sprintf(WarningGitSCPPort, `"ssh://git@git.example.com:2222/org/state.git"`)},
		},
		"a gitAuthor name git strips to nothing is rejected": {
			spec: validGitSpec(func(s *v1alpha1.GitStateStoreSpec) { s.GitAuthor = &v1alpha1.GitAuthor{Name: "<>"} }),
			want: field.ErrorList{field.Required(spec.Child("gitAuthor", "name"), "Kratix commits as this name and git refuses an empty one; set a name, or leave gitAuthor out for kratix")},
		},
		"insecure left unset, which Kratix takes as true, is valid, with a warning for an HTTPS URL": {
			spec:         validGitSpec(func(s *v1alpha1.GitStateStoreSpec) { s.Insecure = nil }),
			wantWarnings: []string{WarningGitInsecure},
		},
		"insecure true says nothing for an SSH URL, which it does not change": {
			spec: validGitSpec(ssh("git@github.com:org/state.git"), func(s *v1alpha1.GitStateStoreSpec) { s.Insecure = ptr.To(true) }),
		},
		"a githubApp store on another host is valid, with a warning": {
			spec:         validGitSpec(func(s *v1alpha1.GitStateStoreSpec) { s.AuthMethod = "githubApp" }),
			wantWarnings: []string{fmt.Sprintf(WarningGitHubAppHost, `"git.example.com"`)},
		},
		"a password in the URL is valid, with a warning": {
			spec:         validGitSpec(withURL("https://bot:hunter2@git.example.com/platform/state.git")),
			wantWarnings: []string{WarningGitURLCredentials},
		},
		"a store without a URL is rejected": {
			spec: validGitSpec(withURL("")),
			want: field.ErrorList{field.Required(url, "the repository Kratix clones and pushes, e.g. https://github.com/org/repo.git, or git@github.com:org/repo.git for authMethod ssh")},
		},
		"a URL that is a bare host and path is rejected (Kratix #427)": {
			spec: validGitSpec(withURL("github.com/org/state.git")),
			want: field.ErrorList{field.Invalid(url, "github.com/org/state.git", "must be https://host/path, or for authMethod ssh ssh://user@host/path or user@host:path; Kratix's git client refuses any other form")},
		},
		"a URL with a space is rejected": {
			spec: validGitSpec(withURL("https://git.example.com/platform/my state.git")),
			want: field.ErrorList{field.Invalid(url, "https://git.example.com/platform/my state.git", "must not contain spaces or control characters")},
		},
		"an upper-case scheme is rejected": {
			spec: validGitSpec(withURL("HTTPS://git.example.com/state.git")),
			want: field.ErrorList{field.Invalid(url, "HTTPS://git.example.com/state.git", `write the scheme in lower case: Kratix's git client matches "https://" exactly`)},
		},
		"an HTTPS URL without a host is rejected": {
			spec: validGitSpec(withURL("https:///state.git")),
			want: field.ErrorList{field.Invalid(url, "https:///state.git", "must name a host")},
		},
		"a port out of range is rejected": {
			spec: validGitSpec(withURL("https://git.example.com:70000/state.git")),
			want: field.ErrorList{field.Invalid(url, "https://git.example.com:70000/state.git", "port must be a number from 1 to 65535")},
		},
		"plain http for basicAuth is rejected": {
			spec: validGitSpec(withURL("http://git.example.com/state.git")),
			want: field.ErrorList{field.Invalid(url, "http://git.example.com/state.git", `must start with "https://": Kratix's git client refuses plain http URLs for authMethod basicAuth; serve the repository over HTTPS`)},
		},
		"an SSH URL for basicAuth is rejected on authMethod": {
			spec: validGitSpec(withURL("git@github.com:org/state.git")),
			want: field.ErrorList{field.Invalid(auth, "basicAuth", "needs an https:// URL, and spec.url is an SSH URL: Kratix's git client refuses it; set authMethod: ssh, or write the https:// URL")},
		},
		"an HTTPS URL for ssh is rejected on authMethod": {
			spec: validGitSpec(ssh("https://github.com/org/state.git")),
			want: field.ErrorList{field.Invalid(auth, "ssh", "needs an SSH URL (ssh://user@host/path or user@host:path), and spec.url is HTTP(S): Kratix's git client refuses it; set authMethod: basicAuth, or write the SSH URL")},
		},
		"an ssh:// URL without a user is rejected": {
			spec: validGitSpec(ssh("ssh://github.com/org/state.git")),
			want: field.ErrorList{field.Invalid(url, "ssh://github.com/org/state.git", "must name the SSH user: Kratix's git client takes only ssh://user@host/path or user@host:path for authMethod ssh; e.g. ssh://git@github.com/org/state.git")},
		},
		"an scp-like URL with an IPv6 host in brackets is valid": {spec: validGitSpec(ssh("git@[2001:db8::1]:org/state.git"))},
		"an scp-like URL with a host and port in brackets is valid": {
			spec: validGitSpec(ssh("git@[git.example.com:2222]:org/state.git")),
		},
		"an scp-like URL with a slash before its colon is rejected: git reads it as a local path": {
			spec: validGitSpec(ssh("git@git.example.com/org:state.git")),
			want: field.ErrorList{field.Invalid(url, "git@git.example.com/org:state.git", `must be user@host:path: git reads a URL with a "/" before its first ":" as a local path, not an SSH host, so it never connects`)},
		},
		"an scp-like URL without a path is rejected": {
			spec: validGitSpec(ssh("git@github.com")),
			want: field.ErrorList{field.Invalid(url, "git@github.com", `must be user@host:path: an scp-like URL names the repository after ":"`)},
		},
		"an unknown auth method is rejected": {
			spec: validGitSpec(func(s *v1alpha1.GitStateStoreSpec) { s.AuthMethod = "token" }),
			want: field.ErrorList{field.NotSupported(auth, "token", []string{"basicAuth", "ssh", "githubApp"})},
		},
		"a store without a secretRef is rejected": {
			spec: validGitSpec(ssh("git@github.com:org/state.git"), func(s *v1alpha1.GitStateStoreSpec) { s.SecretRef = nil }),
			want: field.ErrorList{field.Required(spec.Child("secretRef"), "Kratix reads the credentials from a Secret: name one with the keys sshPrivateKey and knownHosts")},
		},
		"a gitAuthor with an email and no name is rejected": {
			spec: validGitSpec(func(s *v1alpha1.GitStateStoreSpec) { s.GitAuthor = &v1alpha1.GitAuthor{Email: "bot@example.com"} }),
			want: field.ErrorList{field.Required(spec.Child("gitAuthor", "name"), "Kratix commits as this name and git refuses an empty one; set a name, or leave gitAuthor out for kratix")},
		},
		"a branch with slashes is valid":                   {spec: validGitSpec(withBranch("kratix/state-v1.2"))},
		"a branch with a space is rejected":                {spec: validGitSpec(withBranch("my branch")), want: badBranch("my branch", `it may not contain a space or any of ~ ^ : ? * [ \`)},
		"a branch with .. is rejected":                     {spec: validGitSpec(withBranch("a..b")), want: badBranch("a..b", `it may not contain ".."`)},
		"a branch that starts with - is rejected":          {spec: validGitSpec(withBranch("-main")), want: badBranch("-main", `it may not start with "-"`)},
		"a branch ending with .lock is rejected":           {spec: validGitSpec(withBranch("state.lock")), want: badBranch("state.lock", `no part between "/" may start with "." or end with ".lock", and "state.lock" does`)},
		"a branch with a part starting with . is rejected": {spec: validGitSpec(withBranch("a/.b")), want: badBranch("a/.b", `no part between "/" may start with "." or end with ".lock", and ".b" does`)},
		"a branch ending with / is rejected":               {spec: validGitSpec(withBranch("kratix/")), want: badBranch("kratix/", `it may not start or end with "/", or contain "//"`)},
		"a branch with @{ is rejected":                     {spec: validGitSpec(withBranch("a@{b")), want: badBranch("a@{b", `it may not contain "@{"`)},
		"a branch named HEAD is rejected":                  {spec: validGitSpec(withBranch("HEAD")), want: badBranch("HEAD", `it may not be "HEAD"`)},
		"a branch with a control character is rejected":    {spec: validGitSpec(withBranch("a\tb")), want: badBranch("a\tb", "it may not contain control characters")},
		"a branch over 255 bytes is too long":              {spec: validGitSpec(withBranch(strings.Repeat("b", 256))), want: field.ErrorList{field.TooLong(branch, strings.Repeat("b", 256), 255)}},
		"a path that climbs above the repository is rejected": {
			spec: validGitSpec(withPath("../elsewhere")),
			want: field.ErrorList{field.Invalid(spec.Child("path"), "../elsewhere", `must stay inside the repository: its ".." segments climb above the root, where Kratix writes nothing and says so only in its log`)},
		},
		"a path into .git is rejected": {
			spec: validGitSpec(withPath("/.git/hooks")),
			want: field.ErrorList{field.Invalid(spec.Child("path"), "/.git/hooks", `must not be in a ".git" directory: git add takes nothing there, so Kratix writes nothing and says only "no changes to be committed" in its log`)},
		},
		"a path with a .. that stays inside is valid, with a warning": {
			spec:         validGitSpec(withPath("a/../b")),
			wantWarnings: []string{fmt.Sprintf(WarningPathDotDot, `"b"`)},
		},
		"a path that starts with / is valid: Kratix drops the /": {spec: validGitSpec(withPath("/destinations"))},
		"every problem is reported at once": {
			spec: validGitSpec(withURL(""), withBranch("a b"), withPath("..")),
			want: field.ErrorList{
				field.Required(url, "the repository Kratix clones and pushes, e.g. https://github.com/org/repo.git, or git@github.com:org/repo.git for authMethod ssh"),
				field.Invalid(branch, "a b", `must be a branch name git accepts: it may not contain a space or any of ~ ^ : ? * [ \`),
				field.Invalid(spec.Child("path"), "..", `must stay inside the repository: its ".." segments climb above the root, where Kratix writes nothing and says so only in its log`),
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			defaults.GitSpec(tc.spec)
			got, warnings := validateGitSpec(tc.spec, spec)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLongestGitWarningsStayUnderTheAPIServersLimit builds each Git warning from the
// longest values the rules admit.
func TestLongestGitWarningsStayUnderTheAPIServersLimit(t *testing.T) {
	host := strings.Repeat("h", 253)
	shown := strings.Repeat("n", 63) + "/" + strings.Repeat("s", 253)
	warnings := []string{
		WarningGitInsecure,
		WarningGitURLCredentials,
		fmt.Sprintf(WarningGitHubAppHost, quoteShort(host)),
		fmt.Sprintf(WarningSecretNoUsername, quoteShort(shown), v1alpha1.SecretKeyUsername),
		WarningGitBranchEmpty,
		fmt.Sprintf(WarningGitSCPPort, quoteShort("ssh://git@"+host+":65535/"+host)),
		fmt.Sprintf(WarningKnownHostsBadLines, 1<<20, v1alpha1.SecretKeyKnownHosts, quoteShort(shown)),
	}
	for _, w := range warnings {
		if len(w) > maxWarningLength {
			t.Errorf("warning of %d bytes, want at most %d: %s", len(w), maxWarningLength, w)
		}
	}
}
