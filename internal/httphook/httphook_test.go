package httphook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/porttest"
)

// suiteTimeout is the senders' attempt timeout in the conformance suite:
// short, since one subtest waits for it, and long enough for a loaded
// machine to answer the others on loopback.
const suiteTimeout = 500 * time.Millisecond

func TestPort(t *testing.T) {
	porttest.HookSender(t, func(t *testing.T) (facet.HookSender, func(http.Handler) string) {
		s := New(&Options{Timeout: suiteTimeout, AllowLocal: true})
		return s, func(h http.Handler) string {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			return srv.URL + "/facet"
		}
	})
}

func TestPortTLS(t *testing.T) {
	roots := testRoots(t)
	porttest.HookSender(t, func(t *testing.T) (facet.HookSender, func(http.Handler) string) {
		s := New(&Options{Timeout: suiteTimeout, AllowLocal: true})
		s.transport.TLSClientConfig.RootCAs = roots
		return s, func(h http.Handler) string {
			srv := httptest.NewTLSServer(h)
			t.Cleanup(srv.Close)
			return srv.URL + "/facet"
		}
	})
}

// testRoots trusts httptest's certificate, which every TLS test server
// shares: valid for 127.0.0.1, ::1 and example.com.
func testRoots(t *testing.T) *x509.CertPool {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return roots
}

// server is a test endpoint that counts the connections it accepted, so
// that a test can tell a refusal before connecting from one after.
type server struct {
	*httptest.Server
	conns atomic.Int32
}

// newServer starts an endpoint answering 200 on network ("tcp4" or
// "tcp6" loopback), with TLS or without. ok is false when the network has
// no loopback address here.
func newServer(t *testing.T, network string, useTLS bool) (s *server, ok bool) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, false
	}
	s = &server{Server: httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))}
	s.Listener.Close()
	s.Listener = l
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s, true
}

// port returns the server's port with its leading colon.
func (s *server) port() string { return s.URL[strings.LastIndexByte(s.URL, ':'):] }

// TestRefused posts, without AllowLocal, to local endpoints that would
// answer and to addresses that would not: every one must be refused by the
// checks, EInvalid, before a connection. The timeout is short so that a
// mistaken attempt to reach 10.0.0.1 ends quickly, as EUnavailable.
func TestRefused(t *testing.T) {
	plain, _ := newServer(t, "tcp4", false)
	secure, _ := newServer(t, "tcp4", true)
	secure6, ok6 := newServer(t, "tcp6", true)
	s := New(&Options{Timeout: 300 * time.Millisecond})
	s.transport.TLSClientConfig.RootCAs = testRoots(t)

	cases := []struct {
		url  string
		skip string
	}{
		{"http://127.0.0.1" + plain.port() + "/facet", ""},
		{"https://127.0.0.1" + secure.port() + "/facet", ""},
		{"https://127.0.0.2" + secure.port() + "/facet", ""},
		{"https://localhost" + secure.port() + "/facet", ""},
		{"http://localhost" + plain.port() + "/facet", ""},
		{"http://[::ffff:127.0.0.1]" + plain.port() + "/facet", ""},
		{"https://[::ffff:127.0.0.1]" + secure.port() + "/facet", ""},
		{"https://10.0.0.1/facet", ""},
		{"https://169.254.169.254/metadata/instance", ""},
		{"https://168.63.129.16/", ""},
		{"https://0.0.0.0" + secure.port() + "/facet", ""},
		{"http://hooks.example.com/facet", ""},
	}
	if ok6 {
		cases = append(cases, struct{ url, skip string }{"https://[::1]" + secure6.port() + "/facet", ""})
	} else {
		cases = append(cases, struct{ url, skip string }{"https://[::1]/facet", "no IPv6 loopback here"})
	}
	for _, c := range cases {
		if c.skip != "" {
			t.Logf("skipping %s: %s", c.url, c.skip)
			continue
		}
		ans, err := s.Post(t.Context(), facet.HookPost{URL: c.url, Body: []byte(`{}`)})
		if facet.ErrorCode(err) != facet.EInvalid || ans.Status != 0 {
			t.Errorf("Post to %s = %+v, %v; want code %q", c.url, ans, err, facet.EInvalid)
		}
	}
	for name, srv := range map[string]*server{"http": plain, "https": secure, "https on ::1": secure6} {
		if srv != nil && srv.conns.Load() != 0 {
			t.Errorf("the %s endpoint accepted %d connections, want none", name, srv.conns.Load())
		}
	}
}

// TestAllowLocal checks the local-development setting: loopback works,
// over http and https, by address and by name; private, link-local and
// metadata addresses stay refused.
func TestAllowLocal(t *testing.T) {
	plain, _ := newServer(t, "tcp4", false)
	secure, _ := newServer(t, "tcp4", true)
	s := New(&Options{Timeout: 300 * time.Millisecond, AllowLocal: true})
	s.transport.TLSClientConfig.RootCAs = testRoots(t)

	for _, c := range []struct {
		url  string
		code string // of the error; "" for an answer
	}{
		{"http://127.0.0.1" + plain.port() + "/facet", ""},
		{"https://127.0.0.1" + secure.port() + "/facet", ""},
		{"http://localhost" + plain.port() + "/facet", ""},
		{"https://10.0.0.1/facet", facet.EInvalid},
		{"http://10.0.0.1/facet", facet.EInvalid},
		{"https://169.254.169.254/metadata/instance", facet.EInvalid},
		{"http://169.254.169.254/metadata/instance", facet.EInvalid},
		{"https://[fd00:ec2::254]/", facet.EInvalid},
		{"https://[::ffff:169.254.169.254]/", facet.EInvalid},
		{"http://hooks.example.com/facet", facet.EInvalid},
	} {
		ans, err := s.Post(t.Context(), facet.HookPost{URL: c.url, Body: []byte(`{}`)})
		if facet.ErrorCode(err) != c.code || (c.code == "" && ans.Status != http.StatusOK) {
			t.Errorf("Post to %s = %+v, %v; want code %q", c.url, ans, err, c.code)
		}
	}
}

// TestNameResolvingToLocal posts to host names that pass the URL check
// but resolve, through a resolver the test controls, to addresses no
// webhook may reach, as a rebinding DNS server would answer: the dial
// check must refuse each before connecting, and with AllowLocal too,
// but for loopback.
func TestNameResolvingToLocal(t *testing.T) {
	srv, _ := newServer(t, "tcp4", true)
	srv6, ok6 := newServer(t, "tcp6", true)
	names := map[string][]string{
		"loopback.hooks.example": {"127.0.0.1"},
		"private.hooks.example":  {"10.0.0.1"},
		"metadata.hooks.example": {"169.254.169.254"},
		"wire.hooks.example":     {"168.63.129.16"},
		"mapped.hooks.example":   {"::ffff:10.0.0.1"},
		"ula.hooks.example":      {"fd00:ec2::254"},
		"mixed.hooks.example":    {"10.0.0.1", "::ffff:169.254.169.254"},
	}
	if ok6 {
		names["loopback6.hooks.example"] = []string{"::1"}
	}
	for _, allowLocal := range []bool{false, true} {
		s := New(&Options{Timeout: 2 * time.Second, AllowLocal: allowLocal})
		s.dialer.Resolver = fakeResolver(names)
		for name, addrs := range names {
			if allowLocal && strings.HasPrefix(name, "loopback") {
				continue // allowed: TestAllowLocal posts to localhost
			}
			port := srv.port()
			if name == "loopback6.hooks.example" {
				port = srv6.port()
			}
			u := "https://" + name + port + "/facet"
			ans, err := s.Post(t.Context(), facet.HookPost{URL: u, Body: []byte(`{}`)})
			if facet.ErrorCode(err) != facet.EInvalid || ans.Status != 0 {
				t.Errorf("AllowLocal %v: Post to %s (resolving to %v) = %+v, %v; want code %q", allowLocal, u, addrs, ans, err, facet.EInvalid)
			}
			if m := facet.ErrorMessage(err); strings.Contains(m, "127.0.0.1") || strings.Contains(m, "10.0.0.1") {
				t.Errorf("message %q names the address", m)
			}
		}
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("the endpoint accepted %d connections, want none", n)
	}
	if srv6 != nil && srv6.conns.Load() != 0 {
		t.Errorf("the IPv6 endpoint accepted %d connections, want none", srv6.conns.Load())
	}

	// A name that does not resolve is the endpoint's failure, not ours.
	s := New(&Options{Timeout: 2 * time.Second})
	s.dialer.Resolver = fakeResolver(names)
	_, err := s.Post(t.Context(), facet.HookPost{URL: "https://missing.hooks.example/facet", Body: []byte(`{}`)})
	if facet.ErrorCode(err) != facet.EUnavailable || facet.ErrorMessage(err) != "httphook: post: host name not resolved" {
		t.Errorf("Post to a name that does not resolve = %v (code %q), want code %q", err, facet.ErrorCode(err), facet.EUnavailable)
	}
}

// TestWhatIsSent checks what the port leaves to the adapter: the user
// agent, and no compression asked for, since the answer is never decoded.
func TestWhatIsSent(t *testing.T) {
	seen := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	defer srv.Close()
	s := New(&Options{AllowLocal: true})
	p := facet.HookPost{URL: srv.URL, Body: []byte(`{}`), Header: map[string]string{"User-Agent": "spoofed", "Content-Type": "text/plain"}}
	if _, err := s.Post(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	h := <-seen
	if h.Get("User-Agent") != UserAgent || h.Get("Content-Type") != "application/json" || h.Get("Accept-Encoding") != "" {
		t.Errorf("headers = %v, want User-Agent %s, Content-Type application/json and no Accept-Encoding", h, UserAgent)
	}
}

// TestClient checks the client's set-up that no endpoint can show: no
// proxy even when the environment names one, and no shared transport.
func TestClient(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
	t.Setenv("HTTP_PROXY", "http://proxy.example.com:3128")
	s := New(nil)
	if s.transport.Proxy != nil {
		t.Error("the transport has a proxy; a proxy would connect to addresses the dialer never checked")
	}
	if s.client.Transport == http.DefaultTransport || s.client == http.DefaultClient {
		t.Error("the sender uses the default client or transport")
	}
	if s.timeout != DefaultTimeout || s.maxAnswer != DefaultMaxAnswer || s.allowLocal {
		t.Errorf("New(nil) = timeout %v, max answer %d, allow local %v; want the defaults", s.timeout, s.maxAnswer, s.allowLocal)
	}
}

// TestMaxAnswer serves MaxAnswer bytes of an endless answer and then
// stalls: Post must return without waiting for more, and drop the
// connection, so the endpoint's later writes fail.
func TestMaxAnswer(t *testing.T) {
	const max = 100
	release := make(chan struct{})
	wrote := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, strings.Repeat("x", max))
		w.(http.Flusher).Flush()
		<-release
		chunk := []byte(strings.Repeat("y", 64<<10))
		for range 1024 { // 64 MiB, more than any socket buffer
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}))
	defer srv.Close()
	defer close(release)

	const timeout = 10 * time.Second
	s := New(&Options{AllowLocal: true, MaxAnswer: max, Timeout: timeout})
	start := time.Now()
	ans, err := s.Post(t.Context(), facet.HookPost{URL: srv.URL, Body: []byte(`{}`)})
	if err != nil || ans.Status != http.StatusAccepted {
		t.Fatalf("Post = %+v, %v; want status 202", ans, err)
	}
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("Post took %v: it waited for more than MaxAnswer bytes", took)
	}
	release <- struct{}{}
	select {
	case err := <-wrote:
		if err == nil {
			t.Error("the endpoint wrote 64 MiB more after Post returned; the connection should have been closed")
		}
	case <-time.After(timeout):
		t.Error("the endpoint's writes hung after Post returned; the connection should have been closed")
	}
}

// TestUnavailable reaches endpoints that give no status: each is
// EUnavailable, with a message that keeps the URL's query to itself.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	plain, _ := newServer(t, "tcp4", false)
	secure, _ := newServer(t, "tcp4", true)
	s := New(&Options{AllowLocal: true, Timeout: 2 * time.Second}) // trusts no test certificate

	for _, c := range []struct{ url, message string }{
		{"http://" + closed + "/facet?token=s3cret", "httphook: post: connection failed"},
		{"https://127.0.0.1" + secure.port() + "/facet?token=s3cret", "httphook: post: tls certificate not trusted"},
		{"https://127.0.0.1" + plain.port() + "/facet?token=s3cret", "httphook: post: connection failed"},
	} {
		ans, err := s.Post(t.Context(), facet.HookPost{URL: c.url, Body: []byte(`{}`)})
		if facet.ErrorCode(err) != facet.EUnavailable || facet.ErrorMessage(err) != c.message {
			t.Errorf("Post to %s = %v (code %q); want %q, code %q", c.url, err, facet.ErrorCode(err), c.message, facet.EUnavailable)
		}
		if ans.Latency <= 0 {
			t.Errorf("Post to %s: latency %v, want it filled", c.url, ans.Latency)
		}
		if strings.Contains(fmt.Sprintf("%v %v", err, errors.Unwrap(err)), "s3cret") {
			t.Errorf("Post to %s: error %v repeats the URL's query", c.url, err)
		}
	}
}

func TestClassify(t *testing.T) {
	urlErr := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://hooks.example.com/?token=s3cret", Err: err}
	}
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"refused", urlErr(&net.OpError{Op: "dial", Net: "tcp4", Err: fmt.Errorf("%w: tcp4 10.0.0.1:443", errRefused)}), facet.EInvalid},
		{"cancelled", urlErr(context.Canceled), facet.EInternal},
		{"deadline", urlErr(context.DeadlineExceeded), facet.EUnavailable},
		{"dns", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example.com", IsNotFound: true}}), facet.EUnavailable},
		{"connection refused", urlErr(&net.OpError{Op: "dial", Net: "tcp4", Err: errors.New("connect: connection refused")}), facet.EUnavailable},
		{"certificate", urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), facet.EUnavailable},
		{"alert", urlErr(tls.AlertError(40)), facet.EUnavailable},
		{"eof", urlErr(io.EOF), facet.EUnavailable},
		{"malformed answer", urlErr(errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "hello"`)), facet.EUnavailable},
	} {
		err := classify(c.err)
		if got := facet.ErrorCode(err); got != c.code {
			t.Errorf("%s: code %q, want %q (%v)", c.name, got, c.code, err)
		}
		if c.name == "cancelled" && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v does not wrap context.Canceled", c.name, err)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			t.Errorf("%s: %v keeps the url.Error and its URL", c.name, err)
		}
	}
}

// TestBadHeader refuses header fields net/http would not send, as the
// caller's mistake (no code), before connecting.
func TestBadHeader(t *testing.T) {
	srv, _ := newServer(t, "tcp4", false)
	s := New(&Options{AllowLocal: true})
	for _, h := range []map[string]string{{"Bad Name": "v"}, {"": "v"}, {"Facet-Signature": "a\r\nInjected: 1"}, {"X": "nul\x00"}} {
		_, err := s.Post(t.Context(), facet.HookPost{URL: srv.URL, Body: []byte(`{}`), Header: h})
		if facet.ErrorCode(err) != facet.EInternal {
			t.Errorf("Post with header %q = %v, want a plain error", h, err)
		}
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("the endpoint accepted %d connections, want none", n)
	}
}
