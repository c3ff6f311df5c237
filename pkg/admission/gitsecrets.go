package admission

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// gitSecretKeys are the keys Kratix reads from a GitStateStore's Secret, for each auth
// method (util/git's newBasicAuthCreds, newSSHAuthCreds and newGithubAppCreds).
var gitSecretKeys = map[string][]string{
	v1alpha1.GitAuthMethodBasicAuth: {v1alpha1.SecretKeyUsername, v1alpha1.SecretKeyPassword},
	v1alpha1.GitAuthMethodSSH:       {v1alpha1.SecretKeySSHPrivateKey, v1alpha1.SecretKeyKnownHosts},
	v1alpha1.GitAuthMethodGitHubApp: {v1alpha1.SecretKeyAppID, v1alpha1.SecretKeyInstallationID, v1alpha1.SecretKeyPrivateKey},
}

// WarningSecretNoUsername takes the Secret, quoted with quoteShort, and the key: Kratix
// sends an empty user name.
const WarningSecretNoUsername = "Secret %s has no %q: Kratix then sends an empty user name, which most Git servers refuse (only GitHub's URLs get x-access-token); add the user name"

// validateGitSecret checks secret, named shown, as Kratix reads it for spec's auth method:
// the keys it needs, and the values it parses or sends as they are. Errors are on
// fldPath; none holds a value.
func validateGitSecret(spec *v1alpha1.GitStateStoreSpec, secret *corev1.Secret, shown string, fldPath *field.Path) (field.ErrorList, []string) {
	data := secret.Data
	switch spec.AuthMethod {
	case v1alpha1.GitAuthMethodBasicAuth:
		allErrs := validateSecretKeys(secret, []string{v1alpha1.SecretKeyPassword}, shown, fldPath)
		var warnings []string
		// Kratix puts a GitHub URL's empty user name as x-access-token, and sends any
		// other as it is.
		if len(data[v1alpha1.SecretKeyUsername]) == 0 && !strings.Contains(strings.ToLower(spec.URL), "github") {
			warnings = append(warnings, fmt.Sprintf(WarningSecretNoUsername, quoteShort(shown), v1alpha1.SecretKeyUsername))
		}
		for _, key := range gitSecretKeys[spec.AuthMethod] {
			allErrs = append(allErrs, validateSentAsIs(data[key], key, shown, fldPath)...)
		}
		return allErrs, warnings
	case v1alpha1.GitAuthMethodSSH:
		allErrs := validateSecretKeys(secret, gitSecretKeys[spec.AuthMethod], shown, fldPath)
		if len(allErrs) > 0 {
			return allErrs, nil
		}
		allErrs = append(allErrs, validateSSHPrivateKey(data[v1alpha1.SecretKeySSHPrivateKey], shown, fldPath)...)
		u, _ := parseGitURL(spec.URL)
		errs, warnings := validateKnownHosts(data[v1alpha1.SecretKeyKnownHosts], u, shown, fldPath)
		return append(allErrs, errs...), warnings
	case v1alpha1.GitAuthMethodGitHubApp:
		allErrs := validateSecretKeys(secret, gitSecretKeys[spec.AuthMethod], shown, fldPath)
		if len(allErrs) > 0 {
			return allErrs, nil
		}
		for _, key := range []string{v1alpha1.SecretKeyAppID, v1alpha1.SecretKeyInstallationID} {
			allErrs = append(allErrs, validateGitHubID(data[key], key, shown, fldPath)...)
		}
		return append(allErrs, validateGitHubAppKey(data[v1alpha1.SecretKeyPrivateKey], shown, fldPath)...), nil
	}
	return nil, nil
}

// validateSentAsIs checks a value Kratix sends to the server as it is: trailing
// whitespace (a value encoded with `echo` rather than `echo -n`, Kratix #624) becomes
// part of the credentials, and the server refuses them. Kratix no longer retries without
// it (its retry went with the move to the git CLI).
func validateSentAsIs(value []byte, key, shown string, fldPath *field.Path) field.ErrorList {
	if what := trailingWhitespace(value); what != "" {
		return field.ErrorList{field.Invalid(fldPath, shown, messageTrailingWhitespace(key, shown, what, "the server refuses the credentials"))}
	}
	return nil
}

// trailingWhitespace names the whitespace value ends with: "a newline", "a space or a
// tab", or "" for none.
func trailingWhitespace(value []byte) string {
	trimmed := bytes.TrimRight(value, " \t\r\n")
	switch {
	case len(trimmed) == len(value):
		return ""
	case bytes.ContainsAny(value[len(trimmed):], "\r\n"):
		return "a newline"
	}
	return "a space or a tab"
}

// messageTrailingWhitespace is the denial of a value that ends with what.
func messageTrailingWhitespace(key, shown, what, effect string) string {
	return fmt.Sprintf("key %q of Secret %s ends with %s, which Kratix keeps, so %s (Kratix #624); store the value without it, e.g. with kubectl create secret generic --from-literal, or printf rather than echo", key, shown, what, effect)
}

// validateGitHubID checks a GitHub App's appID or installationID: Kratix signs its
// token request with the appID and asks for the installation's token by its number,
// then converts both with strconv.Atoi, failing on anything but a number.
func validateGitHubID(value []byte, key, shown string, fldPath *field.Path) field.ErrorList {
	if what := trailingWhitespace(value); what != "" {
		return field.ErrorList{field.Invalid(fldPath, shown, messageTrailingWhitespace(key, shown, what, "it is not a number to Kratix"))}
	}
	for _, c := range value {
		if c < '0' || c > '9' {
			return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s must be the GitHub App's number, digits only, as GitHub shows it", key, shown))}
		}
	}
	return nil
}

// validateGitHubAppKey checks a GitHub App's private key as Kratix reads it
// (generateGitHubAppJWT): a PEM block holding an RSA key, PKCS #1 or PKCS #8.
func validateGitHubAppKey(value []byte, shown string, fldPath *field.Path) field.ErrorList {
	key := v1alpha1.SecretKeyPrivateKey
	block, _ := pem.Decode(value)
	if block == nil {
		return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s is not PEM: store the .pem file GitHub gave for the App, as it is", key, shown))}
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, ok := k.(*rsa.PrivateKey); ok {
			return nil
		}
	}
	return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s must be the GitHub App's RSA private key (PKCS #1 or PKCS #8 PEM): Kratix signs its token requests with RS256", key, shown))}
}

// validateSSHPrivateKey checks the key as Kratix does (ssh.ParsePrivateKey in SetAuth),
// which cannot give a passphrase.
func validateSSHPrivateKey(value []byte, shown string, fldPath *field.Path) field.ErrorList {
	key := v1alpha1.SecretKeySSHPrivateKey
	_, err := ssh.ParsePrivateKey(value)
	var passphrase *ssh.PassphraseMissingError
	switch {
	case err == nil && bytes.Contains(value, []byte("\r")):
		return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s has CRLF line ends: Go reads the key, but OpenSSH, which Kratix's git runs, refuses it; store the key with LF line ends", key, shown))}
	case err == nil && !bytes.HasPrefix(value, []byte("-----BEGIN")):
		return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s has text before its -----BEGIN line: Go reads the key, but OpenSSH, which Kratix's git runs, refuses it; store the key file as it is", key, shown))}
	case err == nil:
		return nil
	case errors.As(err, &passphrase):
		return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s is encrypted with a passphrase, which Kratix cannot give; store the key without one (ssh-keygen -p -N '' -f <key>)", key, shown))}
	default:
		return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s is not an SSH private key Kratix can read; store the private key file (OpenSSH or PEM) as it is", key, shown))}
	}
}
