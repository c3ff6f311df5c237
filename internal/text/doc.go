// Package text shortens and cleans strings that come from a request or from an S3
// endpoint before they reach an answer, a warning or a log line: one way to cut a string,
// with a named limit for each place it is cut to, and one way to take credentials out of
// text an endpoint may have echoed.
package text
