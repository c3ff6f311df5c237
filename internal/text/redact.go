package text

import "regexp"

// Redacted replaces what Redact takes out.
const Redacted = "[REDACTED]"

// redactions find credentials as an S3 request carries them and as an endpoint may echo
// them back in an error: the Authorization header (to the end of its line, as it holds
// the access key ID and the signature), the X-Amz-* headers and query parameters (the
// session token, the credential scope, the signature), a signature's parts written
// alone, and Amazon access key IDs wherever they appear. Each keeps its name, so the
// log still says what was there.
var redactions = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(\bauthorization["']?\s*[:=>]\s*["']?)[^"'\r\n<>]+`),
	regexp.MustCompile(`(?i)(\b(?:x-amz-[a-z0-9-]+|credential|signature(?:provided)?|signedheaders|awsaccesskeyid|security-?token)["']?\s*[:=>]\s*["']?)[^"'\s&,;<>]+`),
	regexp.MustCompile(`()\b(?:AKIA|ASIA|AROA|AIDA|AGPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{12,}\b`),
}

// Redact takes credentials out of s: see redactions.
func Redact(s string) string {
	for _, re := range redactions {
		s = re.ReplaceAllString(s, "${1}"+Redacted)
	}
	return s
}

// ForLog returns s redacted and cut to MaxLogValue. It first cuts s to a few times that,
// so that a huge string costs little, and redacts before the last cut, so that the cut
// cannot split a credential's name from its value.
func ForLog(s string) string {
	return Cut(Redact(Cut(s, 4*MaxLogValue)), MaxLogValue)
}
