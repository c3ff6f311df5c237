package admission

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

var supportedGitAuthMethods = []string{v1alpha1.GitAuthMethodBasicAuth, v1alpha1.GitAuthMethodSSH, v1alpha1.GitAuthMethodGitHubApp}

// The longest Git values the rules accept; longer ones are reported with field.TooLong.
const (
	maxGitURLLength    = 2048
	maxGitBranchLength = 255 // a file name's limit: git stores a branch as a file under refs/heads
)

// Warnings about a GitStateStore. They are part of the webhook's interface, as the
// bucket's are (docs/reference.md lists them); each stays under maxWarningLength.
const (
	WarningGitInsecure    = "spec.insecure is true or unset (Kratix's default for Git): Kratix will not verify the repository's TLS certificate; set insecure: false once it is trusted"
	WarningGitBranchEmpty = `spec.branch is "": Kratix clones the repository's default branch and pushes HEAD, whatever that branch is; name the branch`
	// WarningGitSCPPort takes the URL that says what was probably meant.
	WarningGitSCPPort        = "spec.url is scp-like, which cannot carry a port: git connects to port 22 and asks for a path that starts with the number; for another port write %s"
	WarningGitURLCredentials = "spec.url carries a password: anyone who may read the store reads it; put the credentials in the Secret instead"
	// WarningGitHubAppHost takes the URL's host.
	WarningGitHubAppHost = "spec.url's host is %s, but Kratix mints GitHub App tokens only from api.github.com (Kratix #612): they work only for repositories on github.com"
)

// Kratix's git client (util/git/git.go, NewGitClient) takes a URL for authMethod ssh
// only when it matches sshURLRegex, and for the others only when it starts with
// "https://"; it refuses any other before running git.
var (
	sshURLRegex = regexp.MustCompile("^(ssh://)?([^/:]*?)@[^@]+$")
)

// gitURL is what the rules read from a GitStateStore's URL.
type gitURL struct {
	// form is "https", "http", "ssh" (ssh:// or scp-like, with a user, as Kratix takes
	// them), "ssh-without-user" or "" for none of these.
	form string
	// host and port are where it points; port is empty when the URL names none.
	host, port string
	// password says that the URL's user info holds a password.
	password bool
}

// parseGitURL reads raw; problem says what is wrong with it whatever the auth method.
func parseGitURL(raw string) (u gitURL, problem string) {
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://"):
		if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
			return u, `write the scheme in lower case: Kratix's git client matches "https://" exactly`
		}
		p, err := url.Parse(raw)
		if err != nil {
			return u, "must be a URL: " + strings.TrimPrefix(err.Error(), fmt.Sprintf("parse %q: ", raw))
		}
		u.form, u.host, u.port = p.Scheme, p.Hostname(), p.Port()
		_, u.password = p.User.Password()
	case sshURLRegex.MatchString(raw):
		u.form = "ssh"
		if strings.HasPrefix(raw, "ssh://") {
			p, err := url.Parse(raw)
			if err != nil {
				return u, "must be a URL: " + strings.TrimPrefix(err.Error(), fmt.Sprintf("parse %q: ", raw))
			}
			u.host, u.port = p.Hostname(), p.Port()
			break
		}
		// scp-like: user@host:path, on port 22, or user@[host:port]:path.
		scp, problem := probe.ParseSCPLike(raw)
		if problem != "" {
			return u, problem
		}
		u.host, u.port = scp.Host, scp.Port
	case strings.HasPrefix(lower, "ssh://"):
		p, err := url.Parse(raw)
		if err != nil {
			return u, "must be a URL: " + strings.TrimPrefix(err.Error(), fmt.Sprintf("parse %q: ", raw))
		}
		u.form, u.host, u.port = "ssh-without-user", p.Hostname(), p.Port()
	default:
		return u, "must be https://host/path, or for authMethod ssh ssh://user@host/path or user@host:path; Kratix's git client refuses any other form"
	}
	if u.host == "" {
		return u, "must name a host"
	}
	if u.port != "" {
		if n, err := strconv.Atoi(u.port); err != nil || n < 1 || n > 65535 {
			return u, "port must be a number from 1 to 65535"
		}
	}
	return u, ""
}

// validateGitSpec checks the static rules of a defaulted GitStateStore spec
// (defaults.GitSpec), as validateSpec does for a BucketStateStore: every problem at once
// with its field path, and warnings for what Kratix uses but is probably a mistake.
// docs/reference.md names, for each rule, the failure of Kratix it stands for.
func validateGitSpec(spec *v1alpha1.GitStateStoreSpec, fldPath *field.Path) (field.ErrorList, []string) {
	urlErrs, warnings := validateGitURL(spec, fldPath)
	pathErrs, pathWarnings := validateGitPath(spec.Path, fldPath.Child("path"))
	var branchErrs field.ErrorList
	switch {
	case spec.Branch == nil:
		// defaults.GitSpec sets it.
	case *spec.Branch == "":
		warnings = append(warnings, WarningGitBranchEmpty)
	default:
		branchErrs = validateBranch(*spec.Branch, fldPath.Child("branch"))
	}
	allErrs := slices.Concat(urlErrs, branchErrs, pathErrs)
	if !slices.Contains(supportedGitAuthMethods, spec.AuthMethod) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("authMethod"), spec.AuthMethod, supportedGitAuthMethods))
	} else {
		allErrs = append(allErrs, validateSecretRef(spec.SecretRef, gitSecretRequired[spec.AuthMethod], fldPath.Child("secretRef"))...)
	}
	if spec.GitAuthor != nil && strings.Trim(spec.GitAuthor.Name, gitIdentCrud) == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("gitAuthor", "name"), "Kratix commits as this name and git refuses an empty one; set a name, or leave gitAuthor out for kratix"))
	}
	return allErrs, slices.Concat(warnings, pathWarnings)
}

// gitIdentCrud are the characters git strips from the ends of an author's name
// (ident.c's crud); a name made only of them is empty to git.
const gitIdentCrud = " \t\n.,:;<>\"'\\"

// gitSecretRequired says, for each auth method, what the Secret Kratix reads must hold.
var gitSecretRequired = map[string]string{
	v1alpha1.GitAuthMethodBasicAuth: fmt.Sprintf("Kratix reads the credentials from a Secret: name one with the keys %s and %s", v1alpha1.SecretKeyUsername, v1alpha1.SecretKeyPassword),
	v1alpha1.GitAuthMethodSSH:       fmt.Sprintf("Kratix reads the credentials from a Secret: name one with the keys %s and %s", v1alpha1.SecretKeySSHPrivateKey, v1alpha1.SecretKeyKnownHosts),
	v1alpha1.GitAuthMethodGitHubApp: fmt.Sprintf("Kratix reads the credentials from a Secret: name one with the keys %s, %s and %s", v1alpha1.SecretKeyAppID, v1alpha1.SecretKeyInstallationID, v1alpha1.SecretKeyPrivateKey),
}

// validateGitURL checks the URL alone and against the auth method, as Kratix's git
// client does before it runs git (NewGitClient), and warns about what works but leaks.
func validateGitURL(spec *v1alpha1.GitStateStoreSpec, fldPath *field.Path) (field.ErrorList, []string) {
	urlPath, raw := fldPath.Child("url"), spec.URL
	switch {
	case raw == "":
		return field.ErrorList{field.Required(urlPath, "the repository Kratix clones and pushes, e.g. https://github.com/org/repo.git, or git@github.com:org/repo.git for authMethod ssh")}, nil
	case len(raw) > maxGitURLLength:
		return field.ErrorList{field.TooLong(urlPath, raw, maxGitURLLength)}, nil
	case strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return field.ErrorList{field.Invalid(urlPath, raw, "must not contain spaces or control characters")}, nil
	}
	u, problem := parseGitURL(raw)
	if problem != "" {
		return field.ErrorList{field.Invalid(urlPath, raw, problem)}, nil
	}
	authPath, method := fldPath.Child("authMethod"), spec.AuthMethod
	var allErrs field.ErrorList
	switch {
	case !slices.Contains(supportedGitAuthMethods, method):
		// validateGitSpec reports the method.
	case method == v1alpha1.GitAuthMethodSSH && u.form == "ssh":
		// What Kratix takes for ssh.
	case method == v1alpha1.GitAuthMethodSSH && u.form == "ssh-without-user":
		allErrs = append(allErrs, field.Invalid(urlPath, raw, fmt.Sprintf("must name the SSH user: Kratix's git client takes only ssh://user@host/path or user@host:path for authMethod ssh; e.g. ssh://git@%s", strings.TrimPrefix(raw, "ssh://"))))
	case method == v1alpha1.GitAuthMethodSSH && u.form != "ssh":
		allErrs = append(allErrs, field.Invalid(authPath, method, "needs an SSH URL (ssh://user@host/path or user@host:path), and spec.url is HTTP(S): Kratix's git client refuses it; set authMethod: basicAuth, or write the SSH URL"))
	case u.form == "ssh" || u.form == "ssh-without-user":
		allErrs = append(allErrs, field.Invalid(authPath, method, "needs an https:// URL, and spec.url is an SSH URL: Kratix's git client refuses it; set authMethod: ssh, or write the https:// URL"))
	case u.form == "http":
		allErrs = append(allErrs, field.Invalid(urlPath, raw, fmt.Sprintf(`must start with "https://": Kratix's git client refuses plain http URLs for authMethod %s; serve the repository over HTTPS`, method)))
	}
	var warnings []string
	if u.password {
		warnings = append(warnings, WarningGitURLCredentials)
	}
	if port, rest, ok := scpPort(raw); ok && len(allErrs) == 0 {
		user, host, _ := strings.Cut(raw[:strings.LastIndex(raw, ":"+port+"/")], "@")
		warnings = append(warnings, fmt.Sprintf(WarningGitSCPPort, quoteShort("ssh://"+user+"@"+host+":"+port+"/"+rest)))
	}
	if len(allErrs) == 0 && u.form == "https" && spec.TLSVerificationDisabled() {
		warnings = append(warnings, WarningGitInsecure)
	}
	if len(allErrs) == 0 && method == v1alpha1.GitAuthMethodGitHubApp && !strings.EqualFold(u.host, "github.com") {
		warnings = append(warnings, fmt.Sprintf(WarningGitHubAppHost, quoteShort(u.host)))
	}
	return allErrs, warnings
}

// scpPort reports whether raw is an scp-like URL whose path starts with a number and
// "/", as someone writes who meant a port, and returns the number and the rest.
func scpPort(raw string) (port, rest string, ok bool) {
	if strings.Contains(raw, "://") || !sshURLRegex.MatchString(raw) {
		return "", "", false
	}
	_, hostPath, _ := strings.Cut(raw, "@")
	_, repo, _ := strings.Cut(hostPath, ":")
	port, rest, ok = strings.Cut(repo, "/")
	if !ok || port == "" || strings.Trim(port, "0123456789") != "" {
		return "", "", false
	}
	return port, rest, true
}

// validateBranch denies a name git refuses as a branch (git check-ref-format --branch):
// Kratix's clone of it fails.
func validateBranch(branch string, fldPath *field.Path) field.ErrorList {
	if len(branch) > maxGitBranchLength {
		return field.ErrorList{field.TooLong(fldPath, branch, maxGitBranchLength)}
	}
	if problem := branchProblem(branch); problem != "" {
		return field.ErrorList{field.Invalid(fldPath, branch, "must be a branch name git accepts: "+problem)}
	}
	return nil
}

// branchProblem says why git refuses branch as a branch's name, or "" when it takes it:
// the rules of git check-ref-format for refs/heads/<branch>, and --branch's.
func branchProblem(branch string) string {
	switch {
	case branch == "":
		return "it is empty"
	case strings.HasPrefix(branch, "-"):
		return `it may not start with "-"`
	case branch == "@" || branch == "HEAD":
		return fmt.Sprintf("it may not be %q", branch)
	case strings.IndexFunc(branch, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
		return "it may not contain control characters"
	case strings.ContainsAny(branch, ` ~^:?*[\`):
		return `it may not contain a space or any of ~ ^ : ? * [ \`
	case strings.Contains(branch, ".."):
		return `it may not contain ".."`
	case strings.Contains(branch, "@{"):
		return `it may not contain "@{"`
	case strings.HasPrefix(branch, "/") || strings.HasSuffix(branch, "/") || strings.Contains(branch, "//"):
		return `it may not start or end with "/", or contain "//"`
	case strings.HasSuffix(branch, "."):
		return `it may not end with "."`
	}
	for _, part := range strings.Split(branch, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return fmt.Sprintf(`no part between "/" may start with "." or end with ".lock", and %q does`, part)
		}
	}
	return ""
}

// validateGitPath denies a path under which Kratix writes nothing, and warns about the
// forms it cleans away. Kratix's writer joins the path with path.Join and drops a leading
// "/" (NewGitWriter); a file that would land outside the clone is skipped with only a
// line in Kratix's log ("path of file to write is not located within the git
// repository"), and git add takes nothing under a ".git" directory, without an error,
// so Kratix commits nothing ("no changes to be committed").
func validateGitPath(p string, fldPath *field.Path) (field.ErrorList, []string) {
	if len(p) > maxPathLength {
		return field.ErrorList{field.TooLong(fldPath, p, maxPathLength)}, nil
	}
	if p == "" {
		return nil, nil
	}
	cleaned := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return field.ErrorList{field.Invalid(fldPath, p, `must stay inside the repository: its ".." segments climb above the root, where Kratix writes nothing and says so only in its log`)}, nil
	}
	if slices.ContainsFunc(strings.Split(cleaned, "/"), func(s string) bool { return strings.EqualFold(s, ".git") }) {
		return field.ErrorList{field.Invalid(fldPath, p, `must not be in a ".git" directory: git add takes nothing there, so Kratix writes nothing and says only "no changes to be committed" in its log`)}, nil
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return nil, []string{fmt.Sprintf(WarningPathDotDot, quoteShort(cleaned))}
	}
	return nil, nil
}
