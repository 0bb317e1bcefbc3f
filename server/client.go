package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads a comma-separated list of IP addresses and CIDR
// prefixes ("10.0.0.5, 10.1.0.0/16, fd00::/8"): the proxies whose
// X-Forwarded-For the server believes. Blank text is an empty list. A prefix
// with bits set beyond its length ("10.0.0.5/8") is refused rather than
// rounded, since it is more likely a typo than a network.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR prefix", item)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR prefix", item)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("trusted proxy %q has bits set beyond its prefix length: did you mean %s?", item, p.Masked())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// clientAddress is who sent r, as the login limiter counts clients: the
// direct peer, or, when the peer is a trusted proxy, the right-most address in
// X-Forwarded-For that is not itself a trusted proxy. Only addresses appended
// by trusted proxies are believed: anything left of the first untrusted one
// was written by the client and may be anything. An IPv6 client is its /64,
// the block one subscriber holds and can draw fresh addresses from at will.
// A peer that is not an IP address (an in-process caller) is its own text.
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	client := peer
	if isTrusted(peer, trusted) {
		xff := strings.Join(r.Header.Values("X-Forwarded-For"), ",")
		// Walk from the right without splitting: a long header costs one pass.
		for xff != "" && isTrusted(client, trusted) {
			item := xff
			if i := strings.LastIndexByte(xff, ','); i >= 0 {
				item, xff = xff[i+1:], xff[:i]
			} else {
				xff = ""
			}
			a, ok := parseHostAddr(strings.TrimSpace(item))
			if !ok {
				// A trusted proxy wrote something that is not an address: the
				// client is unknown beyond that proxy, so the proxy answers for it.
				break
			}
			client = a
		}
	}
	if client.Is6() {
		p, _ := client.Prefix(64)
		return p.String()
	}
	return client.String()
}

// parseHostAddr reads "1.2.3.4", "1.2.3.4:5", "::1" or "[::1]:5", without zone.
func parseHostAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
