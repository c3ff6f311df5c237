package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func mustGuard(t *testing.T, deny, allow []string) *Guard {
	t.Helper()
	var prefixes []netip.Prefix
	for _, d := range deny {
		prefixes = append(prefixes, netip.MustParsePrefix(d))
	}
	g, err := NewGuard(prefixes, allow)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func refused(msg string) *Failure {
	return &Failure{Reason: ReasonEndpointForbidden, Message: msg}
}

func TestGuardCheckHost(t *testing.T) {
	const linkLocal = "link-local address 169.254.0.0/16 (cloud metadata)"
	tests := map[string]struct {
		deny, allow []string
		host        string
		want        *Failure
	}{
		"the AWS, GCP and Azure metadata address is refused": {
			host: "169.254.169.254",
			want: refused(`endpoint "169.254.169.254" is refused: ` + linkLocal),
		},
		"any link-local IPv4 address is refused": {
			host: "169.254.1.1",
			want: refused(`endpoint "169.254.1.1" is refused: ` + linkLocal),
		},
		"an IPv6 link-local address is refused": {
			host: "fe80::1",
			want: refused(`endpoint "fe80::1" is refused: link-local address fe80::/10`),
		},
		"an IPv6 link-local address with a zone is refused": {
			host: "fe80::1%eth0",
			want: refused(`endpoint "fe80::1%eth0" is refused: it means fe80::1, link-local address fe80::/10`),
		},
		"the AWS IPv6 metadata address is refused": {
			host: "fd00:ec2::254",
			want: refused(`endpoint "fd00:ec2::254" is refused: cloud metadata address fd00:ec2::254 (AWS)`),
		},
		"the Alibaba Cloud metadata address is refused": {
			host: "100.100.100.200",
			want: refused(`endpoint "100.100.100.200" is refused: cloud metadata address 100.100.100.200 (Alibaba Cloud)`),
		},
		"an IPv4-mapped IPv6 spelling of the metadata address is refused": {
			host: "::ffff:169.254.169.254",
			want: refused(`endpoint "::ffff:169.254.169.254" is refused: it means 169.254.169.254, ` + linkLocal),
		},
		"a bracketed hexadecimal IPv4-mapped spelling is refused": {
			host: "[::ffff:a9fe:a9fe]",
			want: refused(`endpoint "[::ffff:a9fe:a9fe]" is refused: it means 169.254.169.254, ` + linkLocal),
		},
		"a NAT64 spelling of the metadata address is refused": {
			host: "64:ff9b::a9fe:a9fe",
			want: refused(`endpoint "64:ff9b::a9fe:a9fe" is refused: it reaches 169.254.169.254 through NAT64, ` + linkLocal),
		},
		"a decimal spelling of the metadata address is refused": {
			host: "2852039166",
			want: refused(`endpoint "2852039166" is refused: it means 169.254.169.254, ` + linkLocal),
		},
		"an octal spelling of the metadata address is refused": {
			host: "0251.0376.0251.0376",
			want: refused(`endpoint "0251.0376.0251.0376" is refused: it means 169.254.169.254, ` + linkLocal),
		},
		"a hexadecimal spelling of the metadata address is refused": {
			host: "0xa9fea9fe",
			want: refused(`endpoint "0xa9fea9fe" is refused: it means 169.254.169.254, ` + linkLocal),
		},
		"a short dotted spelling of the metadata address is refused": {
			host: "169.254.43518",
			want: refused(`endpoint "169.254.43518" is refused: it means 169.254.169.254, ` + linkLocal),
		},
		"a trailing dot does not hide the metadata address": {
			host: "169.254.169.254.",
			want: refused(`endpoint "169.254.169.254." is refused: it means 169.254.169.254, ` + linkLocal),
		},
		"a numeric spelling that is not a valid address is refused": {
			host: "0x1ffffffff",
			want: refused(`endpoint "0x1ffffffff" is refused: it looks like a numeric IPv4 address but is not a valid one`),
		},
		"the GCP metadata name is refused": {
			host: "metadata.google.internal",
			want: refused(`endpoint "metadata.google.internal" is refused: cloud metadata host name`),
		},
		"the GCP metadata name is refused whatever its case and with a trailing dot": {
			host: "Metadata.Google.Internal.",
			want: refused(`endpoint "Metadata.Google.Internal." is refused: cloud metadata host name`),
		},
		"the short GCP metadata name is refused": {
			host: "metadata",
			want: refused(`endpoint "metadata" is refused: cloud metadata host name`),
		},
		"the metadata.goog name is refused": {
			host: "metadata.goog",
			want: refused(`endpoint "metadata.goog" is refused: cloud metadata host name`),
		},
		"the EC2 instance-data name is refused": {
			host: "instance-data",
			want: refused(`endpoint "instance-data" is refused: cloud metadata host name`),
		},
		"the qualified EC2 instance-data name is refused": {
			host: "instance-data.ec2.internal",
			want: refused(`endpoint "instance-data.ec2.internal" is refused: cloud metadata host name`),
		},
		"IPv4 loopback is allowed by default": {host: "127.0.0.1"},
		"IPv6 loopback is allowed by default": {host: "::1"},
		"localhost is allowed by default":     {host: "localhost"},
		"a decimal spelling of loopback is allowed": {
			host: "2130706433",
		},
		"an ordinary host name is allowed by default": {host: "s3.eu-west-1.amazonaws.com"},
		"an address in a denied range is refused": {
			deny: []string{"10.0.0.0/8"},
			host: "10.1.2.3",
			want: refused(`endpoint "10.1.2.3" is refused: denied range 10.0.0.0/8`),
		},
		"an octal spelling of a denied address is refused": {
			deny: []string{"10.0.0.0/8"},
			host: "012.1.2.3",
			want: refused(`endpoint "012.1.2.3" is refused: it means 10.1.2.3, denied range 10.0.0.0/8`),
		},
		"an IPv4-mapped denied range also denies the IPv4 spelling": {
			deny: []string{"::ffff:10.0.0.0/104"},
			host: "10.1.2.3",
			want: refused(`endpoint "10.1.2.3" is refused: denied range 10.0.0.0/8`),
		},
		"a host name not in the allowlist is refused": {
			allow: []string{"minio.example.com"},
			host:  "s3.amazonaws.com",
			want:  refused(`endpoint "s3.amazonaws.com" is refused: not in --allow-endpoints`),
		},
		"a host name in the allowlist is allowed whatever its case and with a trailing dot": {
			allow: []string{"minio.example.com"},
			host:  "MinIO.Example.com.",
		},
		"a subdomain is allowed by a wildcard entry": {
			allow: []string{"*.example.com"},
			host:  "s3.example.com",
		},
		"a wildcard entry does not allow its apex": {
			allow: []string{"*.example.com"},
			host:  "example.com",
			want:  refused(`endpoint "example.com" is refused: not in --allow-endpoints`),
		},
		"an address outside the allowed CIDRs is refused": {
			allow: []string{"10.0.0.0/8"},
			host:  "192.168.1.1",
			want:  refused(`endpoint "192.168.1.1" is refused: not in --allow-endpoints`),
		},
		"an address inside an allowed CIDR is allowed": {
			allow: []string{"10.0.0.0/8"},
			host:  "10.1.2.3",
		},
		"an allowed single address is allowed": {
			allow: []string{"192.0.2.10"},
			host:  "192.0.2.10",
		},
		"loopback is refused when the allowlist does not name it": {
			allow: []string{"minio.example.com"},
			host:  "127.0.0.1",
			want:  refused(`endpoint "127.0.0.1" is refused: not in --allow-endpoints`),
		},
		"the allowlist cannot admit the metadata address": {
			allow: []string{"169.254.0.0/16"},
			host:  "169.254.169.254",
			want:  refused(`endpoint "169.254.169.254" is refused: ` + linkLocal),
		},
		"the allowlist cannot admit a metadata name": {
			allow: []string{"metadata.google.internal"},
			host:  "metadata.google.internal",
			want:  refused(`endpoint "metadata.google.internal" is refused: cloud metadata host name`),
		},
		"an unlisted host name is left to the dial-time check when the allowlist has CIDRs": {
			allow: []string{"10.0.0.0/8"},
			host:  "minio.internal",
		},
		"an empty host is refused": {
			host: "",
			want: refused(`endpoint "" is refused: the host is empty`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := mustGuard(t, tc.deny, tc.allow).CheckHost(tc.host)
			checkFailure(t, err, tc.want)
		})
	}
}

func TestGuardControl(t *testing.T) {
	tests := map[string]struct {
		deny    []string
		address string
		want    *Failure
	}{
		"the dialled metadata address is refused": {
			address: "169.254.169.254:80",
			want:    refused(`endpoint "169.254.169.254" is refused: link-local address 169.254.0.0/16 (cloud metadata)`),
		},
		"a dialled IPv4-mapped metadata address is refused": {
			address: "[::ffff:169.254.169.254]:80",
			want:    refused(`endpoint "::ffff:169.254.169.254" is refused: it means 169.254.169.254, link-local address 169.254.0.0/16 (cloud metadata)`),
		},
		"the dialled AWS IPv6 metadata address is refused": {
			address: "[fd00:ec2::254]:80",
			want:    refused(`endpoint "fd00:ec2::254" is refused: cloud metadata address fd00:ec2::254 (AWS)`),
		},
		"a dialled address in a denied range is refused": {
			deny:    []string{"192.168.0.0/16"},
			address: "192.168.4.5:9000",
			want:    refused(`endpoint "192.168.4.5" is refused: denied range 192.168.0.0/16`),
		},
		"a dialled loopback address is allowed": {
			address: "127.0.0.1:9000",
		},
		"a dialled address that is not an IP address is refused": {
			address: "example.com:80",
			want:    refused(`endpoint "example.com:80" is refused: the dialled address is not an IP address`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := mustGuard(t, tc.deny, nil).Control("tcp", tc.address, nil)
			checkFailure(t, err, tc.want)
		})
	}
}

// TestGuardedDial dials loopback only: the refused cases must be refused before any
// connection is made, which the listener's accept count proves.
func TestGuardedDial(t *testing.T) {
	tests := map[string]struct {
		deny, allow []string
		// host is dialled at the test listener's port.
		host string
		want *Failure
	}{
		"a name that resolves to a denied address is refused before connecting": {
			deny: []string{"127.0.0.0/8", "::1/128"},
			host: "localhost",
			want: refused(`endpoint "localhost" is refused: it resolves to 127.0.0.1, denied range 127.0.0.0/8`),
		},
		"a name is checked against the allowed CIDRs once it is resolved": {
			allow: []string{"10.0.0.0/8"},
			host:  "localhost",
			want:  refused(`endpoint "localhost" is refused: it resolves to 127.0.0.1, not in --allow-endpoints`),
		},
		"a name that resolves into an allowed CIDR is dialled": {
			allow: []string{"127.0.0.0/8"},
			host:  "localhost",
		},
		"a name in the allowlist is dialled": {
			allow: []string{"localhost"},
			host:  "localhost",
		},
		"the metadata address is refused before connecting": {
			host: "169.254.169.254",
			want: refused(`endpoint "169.254.169.254" is refused: link-local address 169.254.0.0/16 (cloud metadata)`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			accepted := make(chan struct{}, 1)
			go func() {
				if c, err := l.Accept(); err == nil {
					accepted <- struct{}{}
					_ = c.Close()
				}
			}()
			_, port, _ := net.SplitHostPort(l.Addr().String())
			dial := mustGuard(t, tc.deny, tc.allow).dialContext(&net.Dialer{Timeout: time.Second})

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			conn, err := dial(ctx, "tcp4", net.JoinHostPort(tc.host, port))
			if conn != nil {
				_ = conn.Close()
			}

			if tc.want == nil {
				if err != nil {
					t.Fatalf("want a connection, got %v", err)
				}
				return
			}
			var f *Failure
			if !errors.As(err, &f) {
				t.Fatalf("want a *Failure, got %T %v", err, err)
			}
			checkFailure(t, f, tc.want)
			select {
			case <-accepted:
				t.Error("a refused address was connected to")
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

func TestNewGuardRejectsBadEntries(t *testing.T) {
	tests := map[string]struct {
		deny  []netip.Prefix
		allow []string
		want  string
	}{
		"an allow entry with a scheme is rejected": {
			allow: []string{"https://s3.example.com"},
			want:  `allow entry "https://s3.example.com" is neither a host name nor a CIDR`,
		},
		"an empty allow entry is rejected": {
			allow: []string{" "},
			want:  `allow entry " " is neither a host name nor a CIDR`,
		},
		"an invalid deny prefix is rejected": {
			deny: []netip.Prefix{{}},
			want: `deny entry "invalid Prefix" is not a valid CIDR`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewGuard(tc.deny, tc.allow)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
