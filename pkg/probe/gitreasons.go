package probe

// Reasons only a Git probe gives; GitReasons lists them with those it shares with the
// bucket probe.
const (
	// ReasonRepositoryNotFound is a Git server that has no repository at the URL's path,
	// or hides it from the credentials.
	ReasonRepositoryNotFound Reason = "RepositoryNotFound"
	// ReasonBranchNotFound is a repository whose ref advertisement has no refs/heads/<branch>.
	ReasonBranchNotFound Reason = "BranchNotFound"
	// ReasonAuthenticationFailed is a Git server that refused the credentials: HTTP 401
	// or 403 to the upload-pack advertisement, or an SSH key it does not accept.
	ReasonAuthenticationFailed Reason = "AuthenticationFailed"
	// ReasonNoPushPermission is a repository the credentials may read but whose
	// receive-pack advertisement, which servers give only to those who may push, they
	// were refused.
	ReasonNoPushPermission Reason = "NoPushPermission"
	// ReasonHostKeyUnknown is an SSH server whose host is not in knownHosts. The Secret
	// check denies a knownHosts without the URL's host before any probe, so a store gets
	// this past it only where OpenSSH falls back on the host's port-22 lines for another
	// port and finds no key there that is the server's.
	ReasonHostKeyUnknown Reason = "HostKeyUnknown"
	// ReasonHostKeyMismatch is an SSH server whose host key is not the one knownHosts
	// holds for its host.
	ReasonHostKeyMismatch Reason = "HostKeyMismatch"
	// ReasonURLSchemeMismatch is an https:// URL at a plain-HTTP server or the reverse.
	ReasonURLSchemeMismatch Reason = "URLSchemeMismatch"
	// ReasonNotGit is a server that answered, but not as a Git server does.
	ReasonNotGit Reason = "NotGitServer"
	// ReasonGitHubAppTokenRefused is a GitHub API that refused to mint an installation
	// token for the App's JWT.
	ReasonGitHubAppTokenRefused Reason = "GitHubAppTokenRefused"
)

// GitReasons are the reasons a Git probe gives, in ReasonTable's order: those both kinds
// of probe share, then those whose advice in ReasonTable starts with "Git:", which only a
// Git probe gives. The integration suite holds a GitStateStore scenario for each, or
// says why none can reach it through kubectl.
var GitReasons = []Reason{
	ReasonTLSUntrusted, ReasonNameNotResolved, ReasonConnectionRefused, ReasonTimeout,
	ReasonEndpointForbidden, ReasonCredentialsUnavailable, ReasonUnknown, ReasonInvalidTarget,
	ReasonCanceled, ReasonResponseTooLarge, ReasonBusy,
	ReasonRepositoryNotFound, ReasonBranchNotFound, ReasonAuthenticationFailed,
	ReasonNoPushPermission, ReasonHostKeyUnknown, ReasonHostKeyMismatch,
	ReasonURLSchemeMismatch, ReasonNotGit, ReasonGitHubAppTokenRefused,
}
