package text

import (
	"strings"
	"testing"
)

const (
	accessKeyID = "AKIAIOSFODNN7EXAMPLE"
	signature   = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
)

func TestRedact(t *testing.T) {
	authorization := "AWS4-HMAC-SHA256 Credential=" + accessKeyID + "/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + signature
	cases := map[string]struct {
		s    string
		want string
	}{
		"an echoed Authorization header loses its value to the end of the line": {
			s:    "bad request: Authorization: " + authorization + "\nHost: s3.example.com",
			want: "bad request: Authorization: [REDACTED]\nHost: s3.example.com",
		},
		"an Authorization field in JSON loses its value": {
			s:    `{"Authorization":"` + authorization + `","Host":"s3"}`,
			want: `{"Authorization":"[REDACTED]","Host":"s3"}`,
		},
		"an Authorization element in XML loses its value": {
			s:    "<Error><Authorization>" + authorization + "</Authorization></Error>",
			want: "<Error><Authorization>[REDACTED]</Authorization></Error>",
		},
		"a presigned URL's X-Amz query parameters lose their values": {
			s:    "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + accessKeyID + "%2F20260101&X-Amz-Signature=" + signature + "&x=1",
			want: "GET /b/k?X-Amz-Algorithm=[REDACTED]&X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]&x=1",
		},
		"an X-Amz-Security-Token header loses its value": {
			s:    "x-amz-security-token: FwoGZXIvYXdzEJr//////////wEaD",
			want: "x-amz-security-token: [REDACTED]",
		},
		"a credential and a signature written alone lose their values": {
			s:    "Credential=" + accessKeyID + "/20260101/us-east-1/s3/aws4_request Signature=" + signature,
			want: "Credential=[REDACTED] Signature=[REDACTED]",
		},
		"an access key ID anywhere is taken out": {
			s:    "the key " + accessKeyID + " is not known",
			want: "the key [REDACTED] is not known",
		},
		"text without credentials is kept": {
			s:    `bucket "kratix" does not exist at "s3.example.com:9000"`,
			want: `bucket "kratix" does not exist at "s3.example.com:9000"`,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := Redact(c.s)
			if got != c.want {
				t.Errorf("Redact(%q)\n = %q\nwant %q", c.s, got, c.want)
			}
			if strings.Contains(got, accessKeyID) || strings.Contains(got, signature) {
				t.Errorf("Redact left a credential in %q", got)
			}
		})
	}
}

func TestForLogBoundsAndRedacts(t *testing.T) {
	cases := map[string]string{
		"a 3 MiB name": strings.Repeat("n", 3<<20),
		"a credential at the first cut's boundary": strings.Repeat("x", 4*MaxLogValue-20) + "Credential=" + accessKeyID,
		"a credential past the limit":              strings.Repeat("x", MaxLogValue-30) + " Authorization: AWS4-HMAC-SHA256 Credential=" + accessKeyID,
		"a credential within the limit":            "echo: Credential=" + accessKeyID + "/20260101",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			got := ForLog(s)
			if len(got) > MaxLogValue {
				t.Errorf("ForLog gave %d bytes, more than %d", len(got), MaxLogValue)
			}
			if strings.Contains(got, accessKeyID[:8]) {
				t.Errorf("ForLog left (part of) the access key ID in %q", got)
			}
		})
	}
}
