package httphook

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
)

// DNS record types and the response codes the fake server uses (RFC 1035,
// RFC 3596).
const (
	dnsTypeA      = 1
	dnsTypeAAAA   = 28
	dnsNoError    = 0
	dnsNameError  = 3
	dnsFormError  = 1
	dnsHeaderSize = 12
)

// fakeResolver is a Go resolver whose DNS server answers from names
// instead of the network: each name's addresses, as A and AAAA records,
// and NXDOMAIN for every other name. It plays the rebinding DNS server an
// attacker would run, without one.
func fakeResolver(names map[string][]string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, names)
			return client, nil
		},
	}
}

// serveDNS answers queries on c with the stream framing (a two-byte
// length before each message) that Go's resolver uses on a connection
// that is not a net.PacketConn.
func serveDNS(c net.Conn, names map[string][]string) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil || len(q) < dnsHeaderSize {
			return
		}
		resp := dnsAnswer(q, names)
		msg := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(msg, resp...)); err != nil {
			return
		}
	}
}

// dnsAnswer builds the response to query q: its header and question, then
// the records of the asked type.
func dnsAnswer(q []byte, names map[string][]string) []byte {
	name, end, err := dnsQuestion(q)
	if err != nil {
		return dnsHeader(q, 0, dnsFormError)
	}
	addrs, ok := names[strings.ToLower(strings.TrimSuffix(name, "."))]
	if !ok {
		return append(dnsHeader(q, 0, dnsNameError), q[dnsHeaderSize:end]...)
	}
	qtype := binary.BigEndian.Uint16(q[end-4:])
	var records []byte
	count := 0
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		if (qtype == dnsTypeA) != a.Is4() || qtype != dnsTypeA && qtype != dnsTypeAAAA {
			continue
		}
		count++
		// A pointer to the question's name, type, class IN, TTL 0, data.
		records = append(records, 0xc0, dnsHeaderSize, 0, byte(qtype), 0, 1, 0, 0, 0, 0, 0, byte(a.BitLen()/8))
		records = append(records, a.AsSlice()...)
	}
	resp := append(dnsHeader(q, count, dnsNoError), q[dnsHeaderSize:end]...)
	return append(resp, records...)
}

// dnsQuestion returns the name of q's one question and where the question
// ends; q holds a header at least.
func dnsQuestion(q []byte) (name string, end int, err error) {
	if binary.BigEndian.Uint16(q[4:]) != 1 {
		return "", 0, errors.New("not one question")
	}
	var labels []string
	i := dnsHeaderSize
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l >= len(q) {
			return "", 0, errors.New("bad label")
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return "", 0, errors.New("short question")
	}
	return strings.Join(labels, "."), i + 5, nil
}

// dnsHeader is the response header to q: its id and recursion flag, the
// response and recursion-available flags, rcode, one question and
// answers answers.
func dnsHeader(q []byte, answers int, rcode byte) []byte {
	h := make([]byte, dnsHeaderSize)
	copy(h, q[:2])
	h[2] = 0x80 | q[2]&0x01 // QR, RD as asked
	h[3] = 0x80 | rcode     // RA
	binary.BigEndian.PutUint16(h[4:], 1)
	binary.BigEndian.PutUint16(h[6:], uint16(answers))
	return h
}
