// Package httphook sends webhooks over the network: the facet.HookSender
// port over net/http, with its own client that connects only to public
// addresses, checked on the address it actually dials, so that a
// client-registered URL cannot reach our network, the cloud's metadata
// service or the host, whatever its name resolves to and whenever.
package httphook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/humaninsight/facet"
)

// Defaults, taken when Options leaves a field zero.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultMaxAnswer = 4 << 10
)

// UserAgent names the sender to the endpoints, so that clients can tell
// our deliveries in their logs and firewalls.
const UserAgent = "facet-webhooks/1"

// maxAnswerHeader bounds the answer's header block: nothing in it is
// used but the status, and net/http's default would take 1 MB.
const maxAnswerHeader = 64 << 10

// Options tunes a Sender. The zero value (or nil) takes the defaults and
// allows public addresses over https only.
type Options struct {
	// Timeout bounds a whole attempt: name resolution, connection, TLS,
	// request, answer. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxAnswer is how many bytes of an answer's body are read; the rest
	// is not, and the connection goes with it. Zero means
	// DefaultMaxAnswer.
	MaxAnswer int64
	// AllowLocal is the local-development setting: it also allows loopback
	// addresses (and localhost), over http or https. Private, link-local
	// and metadata addresses stay refused. Never set it in Azure.
	AllowLocal bool
}

// Sender is a facet.HookSender over HTTP/1.1. It keeps idle connections
// for reuse by later posts to the same endpoint. Safe for concurrent use.
type Sender struct {
	client     *http.Client
	transport  *http.Transport // the client's; tests set its TLS roots
	dialer     *net.Dialer     // the transport's; tests set its resolver
	timeout    time.Duration
	maxAnswer  int64
	allowLocal bool
}

var _ facet.HookSender = (*Sender)(nil)

// errRefused is the cause of a dial the address check stopped.
var errRefused = errors.New("webhook address not allowed")

// New returns a Sender with its own client: never http.DefaultTransport,
// whose proxy from the environment would connect for us to addresses we
// never checked, and whose dialer checks nothing.
func New(opt *Options) *Sender {
	s := &Sender{timeout: DefaultTimeout, maxAnswer: DefaultMaxAnswer}
	if opt != nil {
		s.allowLocal = opt.AllowLocal
		if opt.Timeout > 0 {
			s.timeout = opt.Timeout
		}
		if opt.MaxAnswer > 0 {
			s.maxAnswer = opt.MaxAnswer
		}
	}
	s.dialer = &net.Dialer{Timeout: s.timeout, ControlContext: s.control}
	s.transport = &http.Transport{
		Proxy:                  nil,
		DialContext:            s.dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    s.timeout,
		DisableCompression:     true, // a few KB of the answer are read, and never decoded
		MaxResponseHeaderBytes: maxAnswerHeader,
		MaxIdleConns:           64,
		IdleConnTimeout:        30 * time.Second,
		// HTTP/2 stays off (a custom DialContext turns it off unless
		// forced): over HTTP/1.1, closing an answer unread closes its
		// connection, which is what MaxAnswer promises.
	}
	s.client = &http.Client{
		Transport: s.transport,
		// A 3xx is the endpoint's answer. Following it would let a
		// registered URL send us anywhere, and re-POST the body there.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// control runs once the address to dial is known, after name resolution
// and before the connection: the one place that sees the address a
// connection really goes to, for every name, every resolution and every
// address a host name has.
func (s *Sender) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !s.allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s %s", errRefused, network, address)
	}
	return nil
}

func (s *Sender) allowed(a netip.Addr) bool {
	return facet.PublicAddr(a) || s.allowLocal && a.Unmap().IsLoopback()
}

// Post sends p and returns the endpoint's status, reading at most
// MaxAnswer bytes of its body. The URL is checked again with
// facet.CheckHookURL, since the rules may have tightened since it was
// registered.
func (s *Sender) Post(ctx context.Context, p facet.HookPost) (facet.HookAnswer, error) {
	start := time.Now()
	u, err := facet.CheckHookURL(p.URL, s.allowLocal)
	if err != nil {
		return facet.HookAnswer{Latency: time.Since(start)},
			&facet.Error{Code: facet.EInvalid, Message: "httphook: post: " + facet.ErrorMessage(err), Err: err}
	}
	if err := checkHeader(p.Header); err != nil {
		return facet.HookAnswer{Latency: time.Since(start)}, fmt.Errorf("httphook: post: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(p.Body))
	if err != nil {
		return facet.HookAnswer{Latency: time.Since(start)}, fmt.Errorf("httphook: post: %w", err)
	}
	for name, v := range p.Header {
		req.Header.Set(name, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)

	resp, err := s.client.Do(req)
	ans := facet.HookAnswer{Latency: time.Since(start)}
	if err != nil {
		return ans, classify(err)
	}
	// Reading a short answer to its end lets the connection serve the
	// next post; a longer one is cut, and closing it drops the connection.
	// A failure while reading changes nothing: the status came back.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, s.maxAnswer))
	resp.Body.Close()
	ans.Status = resp.StatusCode
	return ans, nil
}

// classify turns a failed attempt into the port's codes, once, here: a
// refused address is EInvalid; the caller's cancellation stays a plain
// error wrapping context.Canceled; anything else kept a status from
// coming back, so the endpoint is EUnavailable and a later attempt may
// reach it. Messages name the kind of failure only; the cause is kept for
// logs, without the url.Error around it, whose URL may carry the client's
// secret in its query.
func classify(err error) error {
	const prefix = "httphook: post: "
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, errRefused):
		return &facet.Error{Code: facet.EInvalid, Message: prefix + errRefused.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s%w", prefix, err)
	}
	return &facet.Error{Code: facet.EUnavailable, Message: prefix + failure(err), Err: err}
}

// failure names what went wrong on the way to an answer.
func failure(err error) string {
	var (
		dns   *net.DNSError
		ne    net.Error
		cert  *tls.CertificateVerificationError
		rec   tls.RecordHeaderError
		alert tls.AlertError
	)
	switch {
	case errors.As(err, &dns):
		return "host name not resolved"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	case errors.As(err, &cert):
		return "tls certificate not trusted"
	case errors.As(err, &rec), errors.As(err, &alert):
		return "tls handshake failed"
	}
	return "connection failed"
}

// checkHeader refuses the header fields net/http would refuse to send
// (names that are not RFC 9110 tokens, values with control characters
// other than tab), so that its error, the caller's mistake, is not taken
// for the endpoint's.
func checkHeader(h map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return !tokenChar(r) }) >= 0 {
			return fmt.Errorf("header %q: not a valid field name", name)
		}
		if strings.IndexFunc(h[name], func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0 {
			return fmt.Errorf("header %s: control character in the value", name)
		}
	}
	return nil
}

func tokenChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}
