package probe

// Reasons only a Git probe gives. The Git probe also gives the reasons both kinds share:
// TLSCertificateUntrusted, NameNotResolved, ConnectionRefused, Timeout,
// EndpointForbidden, CredentialsUnavailable, InvalidTarget, Canceled, ResponseTooLarge,
// Busy and Unknown.
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
	// ReasonHostKeyUnknown is an SSH server whose host is not in knownHosts.
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
