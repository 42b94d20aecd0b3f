package facet

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxHookURL is the longest webhook URL a client may register, in bytes:
// what browsers and most servers take without complaint.
const MaxHookURL = 2048

// refusedPrefixes are the blocks PublicAddr refuses besides those outside
// 2000::/3. The IPv4 ones are the IANA IPv4 Special-Purpose Address
// Registry's (RFC 6890 and its updates) that are not globally reachable,
// the IPv4 Multicast Address Space, and Azure's wire server; the IPv6 ones
// are the blocks of the IANA IPv6 Special-Purpose Address Registry that lie
// inside 2000::/3 and are not globally reachable. Where the registry carves
// a globally reachable address out of a refused block (the PCP and TURN
// anycast addresses of 192.0.0.0/24 and 2001::/23, AMT, ORCHIDv2), the
// whole block is refused still: those are protocol infrastructure, never a
// client's webhook receiver.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),        // "this network" (RFC 791); 0.0.0.0 reaches the local host
	netip.MustParsePrefix("10.0.0.0/8"),       // private-use (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),    // shared address space, carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),      // loopback (RFC 1122)
	netip.MustParsePrefix("168.63.129.16/32"), // Azure's wire server: DNS, DHCP and health probes of the host
	netip.MustParsePrefix("169.254.0.0/16"),   // link-local (RFC 3927), the cloud metadata service among them
	netip.MustParsePrefix("172.16.0.0/12"),    // private-use (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),     // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("192.0.2.0/24"),     // documentation, TEST-NET-1 (RFC 5737)
	netip.MustParsePrefix("192.168.0.0/16"),   // private-use (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),    // benchmarking (RFC 2544)
	netip.MustParsePrefix("198.51.100.0/24"),  // documentation, TEST-NET-2 (RFC 5737)
	netip.MustParsePrefix("203.0.113.0/24"),   // documentation, TEST-NET-3 (RFC 5737)
	netip.MustParsePrefix("224.0.0.0/4"),      // multicast (RFC 5771)
	netip.MustParsePrefix("240.0.0.0/4"),      // reserved (RFC 1112), limited broadcast 255.255.255.255 among them
	netip.MustParsePrefix("2001::/23"),        // IETF protocol assignments (RFC 2928): Teredo, benchmarking, ORCHID
	netip.MustParsePrefix("2001:db8::/32"),    // documentation (RFC 3849)
	netip.MustParsePrefix("3fff::/20"),        // documentation (RFC 9637)
}

var (
	// globalUnicast is the IPv6 global unicast space (RFC 4291, the IANA
	// IPv6 Address Space registry). Everything outside it is loopback,
	// unspecified, IPv4-compatible or -translated, NAT64 (64:ff9b::/96,
	// 64:ff9b:1::/48), discard-only, SRv6, unique local, link-local,
	// site-local, multicast or not allocated at all: never a receiver.
	globalUnicast = netip.MustParsePrefix("2000::/3")
	// sixToFour addresses route to the IPv4 address in their bits 16 to
	// 47 through a relay, so they are as public as that address.
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// PublicAddr reports whether a is an address on the public Internet that
// a webhook may be sent to. It is false for everything the IANA
// special-purpose registries mark as not globally reachable (loopback,
// private, shared, link-local with the cloud metadata address, unique
// local, documentation, benchmarking, reserved, broadcast), for multicast,
// for Azure's wire server 168.63.129.16, for IPv6 outside the global
// unicast space 2000::/3 (NAT64 64:ff9b::/96 and IPv4-compatible forms
// among it) and for addresses with a zone. An IPv4-mapped address
// (::ffff:a.b.c.d) and a 6to4 address are judged by the IPv4 address they
// carry, since that is where a connection to them goes.
func PublicAddr(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false // a zone makes sense only on a link-local address
	}
	a = a.Unmap()
	if a.Is6() {
		if !globalUnicast.Contains(a) {
			return false
		}
		if sixToFour.Contains(a) {
			b := a.As16()
			return PublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range refusedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// CheckHookURL checks a webhook URL a client registers, and returns it
// parsed: absolute, at most MaxHookURL bytes, https, with a host and
// neither user information nor a fragment. A host that is an IP address
// must be PublicAddr. Host names are resolved only when a webhook is sent,
// where the sender checks the address it connects to; here a name must
// look like a public DNS name: no "localhost", no single label (which a
// resolver's search list could complete into an internal name), and no
// numeric last label (127.1 or 0x7f000001, which some resolvers read as
// IPv4 addresses).
//
// allowLocal is the local-development setting: it also allows loopback
// addresses written as such (127.0.0.0/8, ::1) and the name localhost
// (and its subdomains), over http or https. It never allows private,
// link-local or metadata addresses, nor http to any other host.
//
// Errors are EInvalid, with a message that names the API field url and
// repeats nothing of the URL.
func CheckHookURL(raw string, allowLocal bool) (*url.URL, error) {
	if len(raw) > MaxHookURL {
		return nil, Errorf(EInvalid, "url: at most %d bytes", MaxHookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return nil, Errorf(EInvalid, "url: an absolute https URL such as https://hooks.example.com/facet")
	}
	switch {
	case u.Scheme != "https" && !(allowLocal && u.Scheme == "http"):
		return nil, Errorf(EInvalid, "url: must use https")
	case u.User != nil:
		return nil, Errorf(EInvalid, "url: must not hold a user name or password")
	case strings.Contains(raw, "#"):
		return nil, Errorf(EInvalid, "url: must not have a fragment (#...)")
	case u.Hostname() == "":
		return nil, Errorf(EInvalid, "url: must name a host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, Errorf(EInvalid, "url: port must be 1 to 65535")
		}
	}
	local, err := checkHookHost(u.Hostname())
	switch {
	case err != nil:
		return nil, err
	case local && !allowLocal:
		return nil, Errorf(EInvalid, "url: host must be a public address")
	case u.Scheme == "http" && !local:
		return nil, Errorf(EInvalid, "url: must use https")
	}
	return u, nil
}

// checkHookHost checks a URL's host (without brackets or port) and says
// whether it is a local one, which only local development may use.
func checkHookHost(host string) (local bool, err error) {
	if a, err := netip.ParseAddr(host); err == nil {
		switch {
		case PublicAddr(a):
			return false, nil
		case a.Is4() && a.IsLoopback() || a == netip.IPv6Loopback():
			return true, nil
		}
		return false, Errorf(EInvalid, "url: host must be a public address")
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true, nil // RFC 6761: these names resolve to loopback
	}
	if !hostName(name) {
		return false, Errorf(EInvalid, "url: host must be a domain name such as hooks.example.com or an IP address")
	}
	return false, nil
}

// hostName reports whether name is a multi-label DNS name of letters,
// digits, hyphens and underscores whose last label is not numeric: the
// names every resolver reads alike. Internationalised names must come in
// their ASCII (xn--) form.
func hostName(name string) bool {
	labels := strings.Split(name, ".")
	if len(name) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) < 1 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r == '_' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9') {
				return false
			}
		}
	}
	// Inet_aton reads 127.1, 2130706433 and 0x7f.1 as IPv4 addresses, and
	// so does the WHATWG URL parser whenever the last label is a number.
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != "" && !strings.HasPrefix(last, "0x")
}
