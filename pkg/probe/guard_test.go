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
	return mustGuardWith(t, deny, allow, nil, false)
}

// mustGuardWith is mustGuard with the control plane at controlPlane ("ip:port", port 0
// for every port), lifted by allowControlPlane.
func mustGuardWith(t *testing.T, deny, allow, controlPlane []string, allowControlPlane bool) *Guard {
	t.Helper()
	o := GuardOptions{Allow: allow, AllowControlPlane: allowControlPlane}
	for _, d := range deny {
		o.Deny = append(o.Deny, netip.MustParsePrefix(d))
	}
	for _, c := range controlPlane {
		o.ControlPlane = append(o.ControlPlane, netip.MustParseAddrPort(c))
	}
	g, err := NewGuard(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func refused(msg string) *Failure {
	return &Failure{Reason: ReasonEndpointForbidden, Message: msg}
}

func TestGuardCheckEndpoint(t *testing.T) {
	const (
		linkLocal   = "link-local address 169.254.0.0/16 (cloud metadata)"
		unspecified = "unspecified address 0.0.0.0/8 (connects to the local host)"
	)
	// The control plane of a cluster whose kubernetes Service is 10.96.0.1 and whose API
	// server the webhook reaches at 192.0.2.1:6443.
	cluster := []string{"10.96.0.1:0", "192.0.2.1:6443"}
	tests := map[string]struct {
		deny, allow       []string
		controlPlane      []string
		allowControlPlane bool
		host              string
		want              *Failure
	}{
		"0.0.0.0 is refused because it connects to the local host": {
			host: "0.0.0.0:9000",
			want: refused(`endpoint "0.0.0.0" is refused: ` + unspecified),
		},
		"every address in 0.0.0.0/8 is refused": {
			host: "0.1.2.3",
			want: refused(`endpoint "0.1.2.3" is refused: ` + unspecified),
		},
		"a decimal spelling of 0.0.0.0 is refused": {
			host: "0:9000",
			want: refused(`endpoint "0" is refused: it means 0.0.0.0, ` + unspecified),
		},
		"the IPv6 unspecified address is refused": {
			host: "[::]:9000",
			want: refused(`endpoint "::" is refused: unspecified address :: (connects to the local host)`),
		},
		"0.0.0.0 is refused even when the allowlist admits it": {
			allow: []string{"0.0.0.0/0"},
			host:  "0.0.0.0",
			want:  refused(`endpoint "0.0.0.0" is refused: ` + unspecified),
		},
		"the EKS Pod Identity agent is refused": {
			host: "[fd00:ec2::23]:80",
			want: refused(`endpoint "fd00:ec2::23" is refused: EKS Pod Identity agent address fd00:ec2::23`),
		},
		"the Azure platform address is refused": {
			host: "168.63.129.16",
			want: refused(`endpoint "168.63.129.16" is refused: Azure platform address 168.63.129.16`),
		},
		"the local-use NAT64 prefix is refused as a whole": {
			host: "[64:ff9b:1::a9fe:a9fe]",
			want: refused(`endpoint "[64:ff9b:1::a9fe:a9fe]" is refused: it means 64:ff9b:1::a9fe:a9fe, local-use NAT64 prefix 64:ff9b:1::/48`),
		},
		"a 6to4 address embedding the metadata address is refused": {
			host: "2002:a9fe:a9fe::1",
			want: refused(`endpoint "2002:a9fe:a9fe::1" is refused: it reaches 169.254.169.254 through 6to4, ` + linkLocal),
		},
		"a 6to4 address embedding a denied address is refused": {
			deny: []string{"10.0.0.0/8"},
			host: "[2002:a01:203::]:9000",
			want: refused(`endpoint "2002:a01:203::" is refused: it reaches 10.1.2.3 through 6to4, denied range 10.0.0.0/8`),
		},
		"a 6to4 address embedding an address that is not denied is allowed": {
			deny: []string{"10.0.0.0/8"},
			host: "2002:c000:201::1",
		},
		"an IPv4-compatible spelling of the metadata address is refused": {
			host: "::169.254.169.254",
			want: refused(`endpoint "::169.254.169.254" is refused: it reaches 169.254.169.254 through an IPv4-compatible address, ` + linkLocal),
		},
		"a SIIT spelling of the metadata address is refused": {
			host: "::ffff:0:169.254.169.254",
			want: refused(`endpoint "::ffff:0:169.254.169.254" is refused: it reaches 169.254.169.254 through SIIT, ` + linkLocal),
		},
		"a Teredo address whose client is the metadata address is refused": {
			host: "2001:0:4136:e378:8000:63bf:5601:5601",
			want: refused(`endpoint "2001:0:4136:e378:8000:63bf:5601:5601" is refused: it reaches 169.254.169.254 through Teredo, ` + linkLocal),
		},
		"a NAT64 spelling of a denied loopback address is refused": {
			deny: []string{"127.0.0.0/8"},
			host: "[64:ff9b::7f00:1]:9000",
			want: refused(`endpoint "64:ff9b::7f00:1" is refused: it reaches 127.0.0.1 through NAT64, denied range 127.0.0.0/8`),
		},
		"the kubelet's port is refused on any address": {
			host: "127.0.0.1:10250",
			want: refused(`endpoint "127.0.0.1" is refused: port 10250 belongs to the cluster's control plane (kubelet)`),
		},
		"the kubelet's port of a host name is refused before it is resolved": {
			host: "node-1.example.com:10250",
			want: refused(`endpoint "node-1.example.com" is refused: port 10250 belongs to the cluster's control plane (kubelet)`),
		},
		"the kubelet's read-only port is refused": {
			host: "10.0.0.5:10255",
			want: refused(`endpoint "10.0.0.5" is refused: port 10255 belongs to the cluster's control plane (kubelet, read-only)`),
		},
		"etcd's client port is refused": {
			host: "10.0.0.5:2379",
			want: refused(`endpoint "10.0.0.5" is refused: port 2379 belongs to the cluster's control plane (etcd)`),
		},
		"etcd's peer port is refused": {
			host: "[2001:db8::5]:2380",
			want: refused(`endpoint "2001:db8::5" is refused: port 2380 belongs to the cluster's control plane (etcd peers)`),
		},
		"the kubernetes Service address is refused on every port": {
			controlPlane: cluster,
			host:         "10.96.0.1:9000",
			want:         refused(`endpoint "10.96.0.1" is refused: 10.96.0.1 belongs to the cluster's control plane`),
		},
		"the API server's port is refused on its address": {
			controlPlane: cluster,
			host:         "192.0.2.1:6443",
			want:         refused(`endpoint "192.0.2.1" is refused: 192.0.2.1:6443 belongs to the cluster's control plane`),
		},
		"another port on the API server's address is allowed": {
			controlPlane: cluster,
			host:         "192.0.2.1:9000",
		},
		"a NAT64 spelling of the kubernetes Service address is refused": {
			controlPlane: cluster,
			host:         "[64:ff9b::a60:1]:443",
			want:         refused(`endpoint "64:ff9b::a60:1" is refused: it reaches 10.96.0.1 through NAT64, 10.96.0.1 belongs to the cluster's control plane`),
		},
		"--allow-control-plane lets the probe reach the API server": {
			controlPlane:      cluster,
			allowControlPlane: true,
			host:              "192.0.2.1:6443",
		},
		"--allow-control-plane lets the probe reach the kubelet's port": {
			allowControlPlane: true,
			host:              "127.0.0.1:10250",
		},
		"--allow-control-plane does not let the probe reach the metadata address": {
			allowControlPlane: true,
			host:              "169.254.169.254:80",
			want:              refused(`endpoint "169.254.169.254" is refused: ` + linkLocal),
		},
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
		"GCP's IPv6 metadata address is refused": {
			host: "fd20:ce::254",
			want: refused(`endpoint "fd20:ce::254" is refused: cloud metadata address fd20:ce::254 (GCP)`),
		},
		"Oracle Cloud's IPv6 metadata address is refused": {
			host: "fd00:c1::a9fe:a9fe",
			want: refused(`endpoint "fd00:c1::a9fe:a9fe" is refused: cloud metadata address fd00:c1::a9fe:a9fe (Oracle Cloud)`),
		},
		"Oracle Cloud's other IPv4 metadata address is refused": {
			host: "192.0.0.192",
			want: refused(`endpoint "192.0.0.192" is refused: cloud metadata address 192.0.0.192 (Oracle Cloud)`),
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
			err := mustGuardWith(t, tc.deny, tc.allow, tc.controlPlane, tc.allowControlPlane).CheckEndpoint(tc.host)
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
		"a dialled unspecified address is refused": {
			address: "0.0.0.0:9000",
			want:    refused(`endpoint "0.0.0.0" is refused: unspecified address 0.0.0.0/8 (connects to the local host)`),
		},
		"a dialled kubelet port is refused": {
			address: "10.0.0.5:10250",
			want:    refused(`endpoint "10.0.0.5" is refused: port 10250 belongs to the cluster's control plane (kubelet)`),
		},
		"a dialled 6to4 address embedding the metadata address is refused": {
			address: "[2002:a9fe:a9fe::1]:80",
			want:    refused(`endpoint "2002:a9fe:a9fe::1" is refused: it reaches 169.254.169.254 through 6to4, link-local address 169.254.0.0/16 (cloud metadata)`),
		},
		"a dialled address that is not an IP address is refused": {
			address: "example.com:80",
			want:    refused(`endpoint "example.com:80" is refused: the dialled address is not an IP address`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := mustGuard(t, tc.deny, nil).control(tc.address, dialInfo{})
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
			_, err := NewGuard(GuardOptions{Deny: tc.deny, Allow: tc.allow})
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestGuardVirtualHostNames covers the names minio-go dials for an endpoint as written:
// "<bucket>.<host>", and for Amazon S3 the bucket's regional endpoint.
func TestGuardVirtualHostNames(t *testing.T) {
	tests := map[string]struct {
		allow   []string
		scope   dialScope
		dialled string
		want    *Failure
	}{
		"the virtual-host name of an allowed Amazon S3 endpoint is allowed": {
			allow:   []string{"s3.eu-west-1.amazonaws.com"},
			scope:   dialScope{host: "s3.eu-west-1.amazonaws.com", bucket: "kratix"},
			dialled: "kratix.s3.eu-west-1.amazonaws.com",
		},
		"the bucket's regional endpoint is allowed for an allowed global Amazon S3 endpoint": {
			allow:   []string{"s3.amazonaws.com"},
			scope:   dialScope{host: "s3.amazonaws.com", bucket: "kratix"},
			dialled: "kratix.s3.dualstack.eu-west-1.amazonaws.com",
		},
		"the virtual-host name of an allowed endpoint of another S3 is allowed": {
			allow:   []string{"minio.example.com"},
			scope:   dialScope{host: "minio.example.com", bucket: "kratix"},
			dialled: "kratix.minio.example.com",
		},
		"another bucket's virtual-host name is refused": {
			allow:   []string{"minio.example.com"},
			scope:   dialScope{host: "minio.example.com", bucket: "kratix"},
			dialled: "other.minio.example.com",
			want:    refused(`endpoint "other.minio.example.com" is refused: not in --allow-endpoints`),
		},
		"a name that only looks like Amazon S3 is refused": {
			allow:   []string{"s3.amazonaws.com"},
			scope:   dialScope{host: "s3.amazonaws.com", bucket: "kratix"},
			dialled: "kratix.s3.x.myamazonaws.com",
			want:    refused(`endpoint "kratix.s3.x.myamazonaws.com" is refused: not in --allow-endpoints`),
		},
		"the virtual-host name of an endpoint that is not allowed is refused": {
			allow:   []string{"minio.example.com"},
			scope:   dialScope{host: "s3.example.com", bucket: "kratix"},
			dialled: "kratix.s3.example.com",
			want:    refused(`endpoint "kratix.s3.example.com" is refused: not in --allow-endpoints`),
		},
		"a virtual-host name that is a metadata name is refused": {
			allow:   []string{"google.internal"},
			scope:   dialScope{host: "google.internal", bucket: "metadata"},
			dialled: "metadata.google.internal",
			want:    refused(`endpoint "metadata.google.internal" is refused: cloud metadata host name`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := mustGuard(t, nil, tc.allow)
			_, err := g.checkHost(tc.dialled, 443, tc.scope.alias(tc.dialled))
			checkFailure(t, err, tc.want)
		})
	}
}

func TestEmbeddedIPv4(t *testing.T) {
	tests := map[string]struct {
		addr   string
		want   string // "" when a carries none
		wantBy string
	}{
		"NAT64 carries the address in its last 32 bits": {addr: "64:ff9b::c000:201", want: "192.0.2.1", wantBy: "NAT64"},
		"SIIT carries the address in its last 32 bits":  {addr: "::ffff:0:c000:201", want: "192.0.2.1", wantBy: "SIIT"},
		"an IPv4-compatible address carries it in its last 32 bits": {
			addr: "::c000:201", want: "192.0.2.1", wantBy: "an IPv4-compatible address",
		},
		"6to4 carries the address after the 2002 prefix":              {addr: "2002:c000:201:1::1", want: "192.0.2.1", wantBy: "6to4"},
		"Teredo carries the client's address inverted":                {addr: "2001:0:4136:e378:8000:63bf:3fff:fdfe", want: "192.0.2.1", wantBy: "Teredo"},
		"IPv6 loopback carries none":                                  {addr: "::1"},
		"the IPv6 unspecified address carries none":                   {addr: "::"},
		"an IPv4-mapped address carries none, it is unmapped instead": {addr: "::ffff:192.0.2.1"},
		"an ordinary global address carries none":                     {addr: "2001:db8::1"},
		"an IPv4 address carries none":                                {addr: "192.0.2.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v4, by, ok := embeddedIPv4(netip.MustParseAddr(tc.addr))
			if tc.want == "" {
				if ok {
					t.Errorf("got %s through %s, want none", v4, by)
				}
				return
			}
			if !ok || v4.String() != tc.want || by != tc.wantBy {
				t.Errorf("got %s through %q (%v), want %s through %q", v4, by, ok, tc.want, tc.wantBy)
			}
		})
	}
}
