package server

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    string // the prefixes, comma-separated
		wantErr string
	}{
		{"", "", ""},
		{" , ", "", ""},
		{"10.0.0.5", "10.0.0.5/32", ""},
		{"10.0.0.0/8, 192.168.1.1 ,fd00::/8", "10.0.0.0/8,192.168.1.1/32,fd00::/8", ""},
		{"::1", "::1/128", ""},
		{"::ffff:10.0.0.1", "10.0.0.1/32", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"10.0.0.5/8", "", "did you mean 10.0.0.0/8"},
		{"10.0.0.300", "", "neither an IP address nor a CIDR prefix"},
		{"proxy.internal", "", "neither an IP address nor a CIDR prefix"},
		{"10.0.0.0/33", "", "neither an IP address nor a CIDR prefix"},
		{"fe80::1%eth0", "", "neither an IP address nor a CIDR prefix"},
		{"10.0.0.1:80", "", "neither an IP address nor a CIDR prefix"},
	}
	for _, tt := range tests {
		got, err := ParseTrustedProxies(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTrustedProxies(%q) = %v, %v, want an error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, ",") != tt.want {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v, want %s", tt.in, s, err, tt.want)
		}
	}
}

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "198.51.100.1:5000", nil, "198.51.100.1"},
		{"untrusted peer's XFF is ignored", "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1"},
		{"trusted proxy, no XFF: the proxy", "10.0.0.1:5000", nil, "10.0.0.1"},
		{"trusted proxy names the client", "10.0.0.1:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"client-written entries left of it are ignored", "10.0.0.1:5000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies", "10.0.0.1:5000", []string{"1.2.3.4, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"several header lines are one list", "10.0.0.1:5000", []string{"1.2.3.4, 203.0.113.9", "10.9.9.9"}, "203.0.113.9"},
		{"only trusted addresses: the left-most", "10.0.0.1:5000", []string{"10.2.2.2, 10.3.3.3"}, "10.2.2.2"},
		{"garbage from a trusted hop: that hop", "10.0.0.1:5000", []string{"1.2.3.4, unknown, 10.3.3.3"}, "10.3.3.3"},
		{"entries with ports", "10.0.0.1:5000", []string{"[2001:db8::1]:443, 203.0.113.9:1234"}, "203.0.113.9"},
		{"IPv6 client is its /64", "[2001:db8:1:2::77]:5000", nil, "2001:db8:1:2::/64"},
		{"IPv6 client via proxy is its /64", "[fd00::1]:5000", []string{"2001:db8:1:2:aaaa::1"}, "2001:db8:1:2::/64"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"not an address", "pipe", []string{"203.0.113.9"}, "pipe"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddress(r, trusted); got != tt.want {
			t.Errorf("%s: clientAddress(%s, XFF %q) = %q, want %q", tt.name, tt.remote, tt.xff, got, tt.want)
		}
	}
	// Without trusted proxies, X-Forwarded-For means nothing at all.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := clientAddress(r, []netip.Prefix(nil)); got != "10.0.0.1" {
		t.Errorf("clientAddress with no trusted proxies = %q, want the peer 10.0.0.1", got)
	}
}

// FuzzClientAddress: whatever X-Forwarded-For says, a peer that is not a
// trusted proxy is the client, and nothing panics.
func FuzzClientAddress(f *testing.F) {
	f.Add("10.0.0.1:1", "1.2.3.4, 203.0.113.9")
	f.Add("198.51.100.1:1", "10.0.0.1")
	f.Add("[fd00::1]:1", "[::1]:80,,unknown, 10.0.0.2")
	trusted, _ := ParseTrustedProxies("10.0.0.0/8, fd00::/8")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := clientAddress(r, trusted)
		peer, ok := parseHostAddr(remote)
		if !ok {
			if got != remote {
				t.Fatalf("clientAddress(%q) = %q, want the peer's own text", remote, got)
			}
			return
		}
		if !isTrusted(peer, trusted) && got != peerKey(peer) {
			t.Fatalf("untrusted peer %q with XFF %q: clientAddress = %q, want %q", remote, xff, got, peerKey(peer))
		}
	})
}

func peerKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func TestParsePublicURL(t *testing.T) {
	tests := []struct {
		in, want string // want "": an error
	}{
		{"https://gatehouse.example.com", "https://gatehouse.example.com"},
		{"https://GateHouse.example.com/", "https://gatehouse.example.com"},
		{"HTTP://gatehouse.example.com:8000", "http://gatehouse.example.com:8000"},
		{"http://[::1]:8000/", "http://[::1]:8000"},
		{" https://gatehouse.example.com ", "https://gatehouse.example.com"},
		{"gatehouse.example.com", ""},
		{"//gatehouse.example.com", ""},
		{"ftp://gatehouse.example.com", ""},
		{"https://", ""},
		{"https://:443", ""},
		{"https://gatehouse.example.com/gatehouse", ""},
		{"https://gatehouse.example.com/?x=1", ""},
		{"https://gatehouse.example.com/?", ""},
		{"https://gatehouse.example.com/#top", ""},
		{"https://user:pw@gatehouse.example.com", ""},
		{"https://gatehouse.example.com:", ""},
		{"https://gatehouse.example.com:http", ""},
		{"mailto:a@example.com", ""},
		{"", ""},
	}
	for _, tt := range tests {
		u, err := ParsePublicURL(tt.in)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tt.want {
			t.Errorf("ParsePublicURL(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}
