package facet

import (
	"net/netip"
	"strings"
	"testing"
)

// The outside truth for PublicAddr is IANA's: the IPv4 and IPv6
// Special-Purpose Address Registries (RFC 6890, updated by RFC 8190), the
// IPv4 Multicast Address Space Registry and the IPv6 Address Space
// Registry, as published in 2025. Each block appears with its first and
// last address; "reachable" names the registry's Globally Reachable column
// where PublicAddr departs from it on purpose.
var publicAddrCases = []struct {
	addr   string
	public bool
	note   string
}{
	// IPv4 Special-Purpose Address Registry.
	{"0.0.0.0", false, `0.0.0.0/8 "this host on this network" (RFC 791)`},
	{"0.255.255.255", false, "0.0.0.0/8, last"},
	{"10.0.0.0", false, "10.0.0.0/8 private-use (RFC 1918)"},
	{"10.255.255.255", false, "10.0.0.0/8, last"},
	{"100.64.0.0", false, "100.64.0.0/10 shared address space (RFC 6598)"},
	{"100.127.255.255", false, "100.64.0.0/10, last"},
	{"127.0.0.1", false, "127.0.0.0/8 loopback (RFC 1122)"},
	{"127.255.255.255", false, "127.0.0.0/8, last"},
	{"169.254.0.0", false, "169.254.0.0/16 link-local (RFC 3927)"},
	{"169.254.169.254", false, "link-local: the cloud metadata service (Azure IMDS)"},
	{"169.254.255.255", false, "169.254.0.0/16, last"},
	{"172.16.0.0", false, "172.16.0.0/12 private-use (RFC 1918)"},
	{"172.31.255.255", false, "172.16.0.0/12, last"},
	{"192.0.0.0", false, "192.0.0.0/24 IETF protocol assignments (RFC 6890)"},
	{"192.0.0.8", false, "192.0.0.8/32 IPv4 dummy address (RFC 7600)"},
	{"192.0.0.9", false, "192.0.0.9/32 PCP anycast (RFC 7723): reachable, refused with its /24"},
	{"192.0.0.10", false, "192.0.0.10/32 TURN anycast (RFC 8155): reachable, refused with its /24"},
	{"192.0.0.170", false, "192.0.0.170/32 NAT64/DNS64 discovery (RFC 7050)"},
	{"192.0.0.255", false, "192.0.0.0/24, last"},
	{"192.0.2.0", false, "192.0.2.0/24 documentation TEST-NET-1 (RFC 5737)"},
	{"192.0.2.255", false, "192.0.2.0/24, last"},
	{"192.31.196.1", true, "192.31.196.0/24 AS112-v4 (RFC 7535): globally reachable"},
	{"192.52.193.1", true, "192.52.193.0/24 AMT (RFC 7450): globally reachable"},
	{"192.88.99.1", true, "192.88.99.0/24 deprecated 6to4 relay anycast (RFC 7526): reachable N/A, left alone"},
	{"192.168.0.0", false, "192.168.0.0/16 private-use (RFC 1918)"},
	{"192.168.255.255", false, "192.168.0.0/16, last"},
	{"192.175.48.1", true, "192.175.48.0/24 direct delegation AS112 (RFC 7534): globally reachable"},
	{"198.18.0.0", false, "198.18.0.0/15 benchmarking (RFC 2544)"},
	{"198.19.255.255", false, "198.18.0.0/15, last"},
	{"198.51.100.0", false, "198.51.100.0/24 documentation TEST-NET-2 (RFC 5737)"},
	{"198.51.100.255", false, "198.51.100.0/24, last"},
	{"203.0.113.0", false, "203.0.113.0/24 documentation TEST-NET-3 (RFC 5737)"},
	{"203.0.113.255", false, "203.0.113.0/24, last"},
	{"240.0.0.0", false, "240.0.0.0/4 reserved (RFC 1112)"},
	{"255.255.255.254", false, "240.0.0.0/4, last but one"},
	{"255.255.255.255", false, "255.255.255.255/32 limited broadcast (RFC 919)"},
	// IPv4 Multicast Address Space Registry (RFC 5771).
	{"224.0.0.1", false, "224.0.0.0/24 local network control block"},
	{"233.252.0.1", false, "233.252.0.0/24 MCAST-TEST-NET (RFC 6676)"},
	{"239.255.255.255", false, "239.0.0.0/8 administratively scoped, last of 224.0.0.0/4"},
	// Azure's platform address (learn.microsoft.com, "What is IP address 168.63.129.16?").
	{"168.63.129.16", false, "Azure wire server"},
	{"168.63.129.15", true, "next to the wire server"},
	{"168.63.129.17", true, "next to the wire server"},
	// Neighbours of the refused blocks, and public addresses.
	{"9.255.255.255", true, "before 10.0.0.0/8"},
	{"11.0.0.0", true, "after 10.0.0.0/8"},
	{"100.63.255.255", true, "before 100.64.0.0/10"},
	{"100.128.0.0", true, "after 100.64.0.0/10"},
	{"126.255.255.255", true, "before 127.0.0.0/8"},
	{"128.0.0.0", true, "after 127.0.0.0/8"},
	{"169.253.255.255", true, "before 169.254.0.0/16"},
	{"169.255.0.0", true, "after 169.254.0.0/16"},
	{"172.15.255.255", true, "before 172.16.0.0/12"},
	{"172.32.0.0", true, "after 172.16.0.0/12"},
	{"192.0.1.0", true, "between 192.0.0.0/24 and 192.0.2.0/24"},
	{"192.167.255.255", true, "before 192.168.0.0/16"},
	{"192.169.0.0", true, "after 192.168.0.0/16"},
	{"198.17.255.255", true, "before 198.18.0.0/15"},
	{"198.20.0.0", true, "after 198.18.0.0/15"},
	{"223.255.255.255", true, "before 224.0.0.0/4"},
	{"1.1.1.1", true, "public resolver"},
	{"8.8.8.8", true, "public resolver"},
	{"20.50.2.1", true, "an Azure public address"},

	// IPv6 Special-Purpose Address Registry.
	{"::", false, "::/128 unspecified (RFC 4291)"},
	{"::1", false, "::1/128 loopback (RFC 4291)"},
	{"::ffff:8.8.8.8", true, "::ffff:0:0/96 IPv4-mapped: judged by its IPv4 address"},
	{"::ffff:127.0.0.1", false, "IPv4-mapped loopback"},
	{"::ffff:10.1.2.3", false, "IPv4-mapped private-use"},
	{"::ffff:169.254.169.254", false, "IPv4-mapped metadata address"},
	{"::ffff:168.63.129.16", false, "IPv4-mapped wire server"},
	{"::127.0.0.1", false, "::/96 IPv4-compatible loopback (deprecated, RFC 4291)"},
	{"::8.8.8.8", false, "::/96 IPv4-compatible, deprecated: outside 2000::/3"},
	{"::ffff:0:10.1.2.3", false, "::ffff:0:0:0/96 IPv4-translated (RFC 2765)"},
	{"64:ff9b::8.8.8.8", false, "64:ff9b::/96 NAT64 well-known prefix (RFC 6052): reachable, refused"},
	{"64:ff9b::a9fe:a9fe", false, "NAT64 form of 169.254.169.254"},
	{"64:ff9b:1::1", false, "64:ff9b:1::/48 local-use NAT64 (RFC 8215)"},
	{"100::1", false, "100::/64 discard-only (RFC 6666)"},
	{"100:0:0:1::1", false, "100:0:0:1::/64 dummy prefix (RFC 9780)"},
	{"2001::1", false, "2001::/32 Teredo (RFC 4380), in 2001::/23"},
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false, "a Teredo address"},
	{"2001:1::1", false, "2001:1::1/128 PCP anycast: reachable, refused with its /23"},
	{"2001:2::1", false, "2001:2::/48 benchmarking (RFC 5180)"},
	{"2001:3::1", false, "2001:3::/32 AMT (RFC 7450): reachable, refused with its /23"},
	{"2001:10::1", false, "2001:10::/28 deprecated ORCHID (RFC 4843)"},
	{"2001:20::1", false, "2001:20::/28 ORCHIDv2 (RFC 7343): reachable, refused with its /23"},
	{"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false, "2001::/23 IETF protocol assignments (RFC 2928), last"},
	{"2001:db8::", false, "2001:db8::/32 documentation (RFC 3849)"},
	{"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false, "2001:db8::/32, last"},
	{"2002:0808:0808::1", true, "2002::/16 6to4 (RFC 3056) of 8.8.8.8: judged by its IPv4 address"},
	{"2002:7f00:1::1", false, "6to4 of 127.0.0.1"},
	{"2002:0a00:0001::1", false, "6to4 of 10.0.0.1"},
	{"2002:a9fe:a9fe::1", false, "6to4 of 169.254.169.254"},
	{"2620:4f:8000::1", true, "2620:4f:8000::/48 direct delegation AS112 (RFC 7534): globally reachable"},
	{"3fff::1", false, "3fff::/20 documentation (RFC 9637)"},
	{"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false, "3fff::/20, last"},
	{"5f00::1", false, "5f00::/16 SRv6 SIDs (RFC 9602)"},
	{"fc00::1", false, "fc00::/7 unique local (RFC 4193)"},
	{"fd00:ec2::254", false, "unique local: a cloud metadata address"},
	{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "fc00::/7, last"},
	{"fe80::1", false, "fe80::/10 link-local unicast (RFC 4291)"},
	{"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "fe80::/10, last"},
	{"fec0::1", false, "fec0::/10 site-local, deprecated (RFC 3879)"},
	{"ff02::1", false, "ff00::/8 multicast (RFC 4291)"},
	{"ff0e::1", false, "global-scope multicast"},
	// IPv6 Address Space Registry: only 2000::/3 is global unicast.
	{"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, "before 2000::/3, reserved by IETF"},
	{"4000::1", false, "after 2000::/3, reserved by IETF"},
	{"2001:200::1", true, "after 2001::/23 (WIDE, Japan)"},
	{"2001:db7:ffff::1", true, "before 2001:db8::/32"},
	{"2001:db9::1", true, "after 2001:db8::/32"},
	{"3fff:1000::1", true, "after 3fff::/20"},
	{"2001:4860:4860::8888", true, "public resolver"},
	{"2606:4700:4700::1111", true, "public resolver"},
	{"2603:1020::1", true, "an Azure public address"},
	// Zones belong to link-local addresses only.
	{"fe80::1%eth0", false, "link-local with a zone"},
	{"2001:4860:4860::8888%eth0", false, "public address with a zone"},
}

func TestPublicAddr(t *testing.T) {
	for _, c := range publicAddrCases {
		a, err := netip.ParseAddr(c.addr)
		if err != nil {
			t.Fatalf("%s: %v", c.addr, err)
		}
		if got := PublicAddr(a); got != c.public {
			t.Errorf("PublicAddr(%s) = %v, want %v: %s", c.addr, got, c.public, c.note)
		}
	}
	if PublicAddr(netip.Addr{}) {
		t.Error("PublicAddr of the zero Addr = true, want false")
	}
}

// longHookURL is exactly MaxHookURL bytes long.
var longHookURL = "https://hooks.example.com/" + strings.Repeat("a", MaxHookURL-len("https://hooks.example.com/"))

var hookURLCases = []struct {
	url        string
	allowLocal bool
	ok         bool
	note       string
}{
	{"https://hooks.example.com/facet", false, true, "plain"},
	{"https://hooks.example.com:8443/facet?token=abc&x=1", false, true, "port and query"},
	{"HTTPS://Hooks.Example.COM/", false, true, "upper case scheme and host"},
	{"https://hooks.example.com./", false, true, "fully qualified with the root dot"},
	{"https://xn--mnchen-3ya.example/", false, true, "internationalised name in its ASCII form"},
	{"https://my_hooks.example.com/", false, true, "underscore"},
	{"https://8.8.8.8/hook", false, true, "public IPv4 literal"},
	{"https://[2001:4860:4860::8888]/hook", false, true, "public IPv6 literal"},
	{longHookURL, false, true, "exactly MaxHookURL bytes"},
	{longHookURL + "a", false, false, "one byte over MaxHookURL"},
	{"", false, false, "empty"},
	{"hooks.example.com/facet", false, false, "no scheme"},
	{"//hooks.example.com/facet", false, false, "scheme-relative"},
	{"/facet", false, false, "relative"},
	{"https:hooks.example.com", false, false, "opaque"},
	{"http://hooks.example.com/", false, false, "http"},
	{"http://hooks.example.com/", true, false, "http to a public host, even locally"},
	{"ftp://hooks.example.com/", false, false, "ftp"},
	{"https://user:secret@hooks.example.com/", false, false, "user information"},
	{"https://user@hooks.example.com/", false, false, "user name"},
	{"https://hooks.example.com/#top", false, false, "fragment"},
	{"https://hooks.example.com/#", false, false, "empty fragment"},
	{"https:///facet", false, false, "no host"},
	{"https://:443/facet", false, false, "port without host"},
	{"https://hooks.example.com:0/", false, false, "port 0"},
	{"https://hooks.example.com:65536/", false, false, "port out of range"},
	{"https://hooks example.com/", false, false, "space in host"},
	{"https://hooks.example.com/\n", false, false, "control character"},
	{"https://hooks/", false, false, "single label"},
	{"https://münchen.example/", false, false, "non-ASCII name"},
	{"https://-hooks.example.com/", false, false, "label starting with a hyphen"},
	{"https://hooks..example.com/", false, false, "empty label"},
	{"https://" + strings.Repeat("a", 64) + ".example.com/", false, false, "label over 63 bytes"},
	{"https://127.1/", false, false, "short IPv4 form"},
	{"https://0x7f.0.0.1/", false, false, "hexadecimal IPv4 form"},
	{"https://2130706433/", false, false, "decimal IPv4 form"},
	{"https://hooks.0x7f000001/", false, false, "hexadecimal last label"},
	{"https://127.0.0.1/", false, false, "loopback"},
	{"https://127.0.0.1:8080/", true, true, "loopback, locally"},
	{"http://127.0.0.1:8080/", true, true, "http on loopback, locally"},
	{"http://127.9.9.9/", true, true, "elsewhere in 127.0.0.0/8, locally"},
	{"https://[::1]/", false, false, "IPv6 loopback"},
	{"http://[::1]:8080/", true, true, "IPv6 loopback, locally"},
	{"https://[::ffff:127.0.0.1]/", false, false, "IPv4-mapped loopback"},
	{"https://[::ffff:127.0.0.1]/", true, false, "IPv4-mapped loopback, even locally"},
	{"https://localhost/", false, false, "localhost"},
	{"https://LOCALHOST./", false, false, "localhost, upper case and rooted"},
	{"https://hooks.localhost/", false, false, "a .localhost name"},
	{"http://localhost:7071/", true, true, "localhost, locally"},
	{"https://10.0.0.1/", false, false, "private"},
	{"https://10.0.0.1/", true, false, "private, even locally"},
	{"http://192.168.1.10/", true, false, "private over http, even locally"},
	{"https://169.254.169.254/metadata", false, false, "metadata"},
	{"https://169.254.169.254/metadata", true, false, "metadata, even locally"},
	{"https://168.63.129.16/", true, false, "wire server, even locally"},
	{"https://[fd00:ec2::254]/", true, false, "unique local, even locally"},
	{"https://[fe80::1%25eth0]/", true, false, "link-local with a zone, even locally"},
	{"https://0.0.0.0/", true, false, "unspecified, even locally"},
	{"https://[64:ff9b::a9fe:a9fe]/", false, false, "NAT64 form of the metadata address"},
}

func TestCheckHookURL(t *testing.T) {
	for _, c := range hookURLCases {
		u, err := CheckHookURL(c.url, c.allowLocal)
		if (err == nil) != c.ok {
			t.Errorf("%s: CheckHookURL(%q, %v) error = %v, want ok=%v", c.note, c.url, c.allowLocal, err, c.ok)
			continue
		}
		if err != nil {
			if ErrorCode(err) != EInvalid || !strings.HasPrefix(err.Error(), "url: ") {
				t.Errorf("%s: error %q should be invalid and name the field url", c.note, err)
			}
			continue
		}
		if u == nil || u.Host == "" {
			t.Errorf("%s: CheckHookURL returned %v", c.note, u)
		}
	}
}

// TestCheckHookURLMessage keeps the URL out of the message: it may hold a
// token in its query, and the message goes back to the client and into logs.
func TestCheckHookURLMessage(t *testing.T) {
	for _, raw := range []string{
		"https://user:s3cret@hooks.example.com/",
		"http://hooks.example.com/?token=s3cret",
		"https://169.254.169.254/?token=s3cret",
		"https://hooks.example.com/?token=s3cret#frag",
		"https://s3cret/",
		"https://hooks.example.com/?token=s3cret" + strings.Repeat("a", MaxHookURL),
	} {
		_, err := CheckHookURL(raw, false)
		if err == nil {
			t.Fatalf("CheckHookURL(%q) = nil, want an error", raw)
		}
		if m := ErrorMessage(err); strings.Contains(m, "s3cret") || strings.Contains(m, "169.254") {
			t.Errorf("CheckHookURL(%q) message %q repeats the URL", raw, m)
		}
	}
}
