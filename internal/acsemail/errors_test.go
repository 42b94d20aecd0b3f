package acsemail_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/acsemail"
)

var hello = facet.Mail{To: "dana@research.example", Subject: "Hello", Text: "Hello."}

// TestErrorMapping answers each try with one status and checks the code,
// the Retry-After and the message, which names the service's error code
// but never its message (it may repeat the address).
func TestErrorMapping(t *testing.T) {
	in30s := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		status     int
		header     map[string]string
		body       string
		code       string
		retryAfter time.Duration
		says       string // in the message
	}{
		{400, nil, `{"error":{"code":"InvalidRecipient","message":"dana@research.example is not valid"}}`, facet.EInvalid, 0, "InvalidRecipient"},
		{400, map[string]string{"x-ms-error-code": "DomainNotLinked"}, "", facet.EInvalid, 0, "DomainNotLinked"},
		{400, map[string]string{"x-ms-error-code": "bad <script>"}, "", facet.EInvalid, 0, "status 400)"},
		{413, nil, "", facet.EInvalid, 0, "status 413"},
		{401, nil, "", facet.EInternal, 0, "managed identity"},
		{403, map[string]string{"x-ms-error-code": "Forbidden"}, "", facet.EInternal, 0, "managed identity"},
		{404, nil, "", facet.EInternal, 0, "unexpected"},
		{412, nil, "", facet.EInternal, 0, "status 412"},
		{408, nil, "", facet.EUnavailable, 0, "busy"},
		{429, map[string]string{"Retry-After": "7"}, `{"error":{"code":"TooManyRequests"}}`, facet.EUnavailable, 7 * time.Second, "TooManyRequests"},
		{429, map[string]string{"Retry-After": in30s}, "", facet.EUnavailable, 30 * time.Second, "status 429"},
		{500, nil, "", facet.EUnavailable, 0, "status 500"},
		{503, map[string]string{"Retry-After": "2"}, "", facet.EUnavailable, 2 * time.Second, "status 503"},
	}
	for _, c := range cases {
		f, m := start(t, &fakeCred{}, &acsemail.Options{MaxRetries: -1})
		f.answer = func(_ int, w http.ResponseWriter) int {
			for k, v := range c.header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
			return c.status
		}
		err := m.Send(t.Context(), hello)
		ra := facet.RetryAfter(err)
		if facet.ErrorCode(err) != c.code || ra < c.retryAfter-time.Second || ra > c.retryAfter {
			t.Errorf("status %d %v: Send = %v (retry after %v); want code %q, retry after %v", c.status, c.header, err, ra, c.code, c.retryAfter)
		}
		if msg := facet.ErrorMessage(err); !strings.Contains(msg, c.says) || strings.Contains(msg, hello.To) || strings.Contains(msg, "<script>") {
			t.Errorf("status %d: message %q, want it to say %q and neither the address nor markup", c.status, msg, c.says)
		}
	}
}

// TestRetrySameIDs: a 503, then a try whose answer is lost after the
// service queued the mail, then the repeat. Every try carries the same
// ids, so the service queues the mail once.
func TestRetrySameIDs(t *testing.T) {
	f, m := start(t, &fakeCred{}, &acsemail.Options{RetryDelay: time.Millisecond})
	f.answer = func(n int, w http.ResponseWriter) int {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return 1
		}
		return 0
	}
	f.loseAnswer = func(n int) bool { return n == 1 }
	if err := m.Send(t.Context(), hello); err != nil {
		t.Fatalf("Send = %v, want success after retries", err)
	}
	reqs := f.Requests()
	if len(reqs) != 3 {
		t.Fatalf("the service saw %d tries, want 3 (503, lost answer, repeat)", len(reqs))
	}
	for _, h := range []string{"Operation-Id", "Repeatability-Request-Id", "Repeatability-First-Sent"} {
		for i, r := range reqs[1:] {
			if r.header.Get(h) != reqs[0].header.Get(h) {
				t.Errorf("try %d: %s = %q, want the first try's %q", i+2, h, r.header.Get(h), reqs[0].header.Get(h))
			}
		}
	}
	if got := len(f.Mails()); got != 1 {
		t.Errorf("the service queued %d mails, want 1", got)
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	f, m := start(t, &fakeCred{}, &acsemail.Options{RetryDelay: time.Millisecond})
	f.answer = func(_ int, w http.ResponseWriter) int {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		return 1
	}
	err := m.Send(t.Context(), hello)
	if facet.ErrorCode(err) != facet.EUnavailable || facet.RetryAfter(err) != time.Minute {
		t.Errorf("Send = %v (retry after %v), want code %q and a minute", err, facet.RetryAfter(err), facet.EUnavailable)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d tries, want 1: a Retry-After of a minute is the caller's to wait, not Send's", n)
	}
}

func TestNoToken(t *testing.T) {
	f, m := start(t, &fakeCred{err: errors.New("managed identity endpoint not reachable")}, &acsemail.Options{MaxRetries: -1})
	if err := m.Send(t.Context(), hello); facet.ErrorCode(err) != facet.EUnavailable {
		t.Errorf("Send without a token = %v, want code %q", err, facet.EUnavailable)
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("the service saw %d requests without a token, want none", n)
	}
}

func TestUnreachable(t *testing.T) {
	m, err := acsemail.New("https://127.0.0.1:1", sender, &fakeCred{}, &acsemail.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(t.Context(), hello); facet.ErrorCode(err) != facet.EUnavailable {
		t.Errorf("Send to a closed port = %v, want code %q", err, facet.EUnavailable)
	}
}

// TestSlowService: Options.Timeout ends a Send the service does not
// answer (EUnavailable); the caller's cancellation ends it too, and says so.
func TestSlowService(t *testing.T) {
	f, m := start(t, &fakeCred{}, &acsemail.Options{Timeout: 300 * time.Millisecond, MaxRetries: -1})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server's clean-up, which waits for handlers
	f.answer = func(int, http.ResponseWriter) int { <-release; return 1 }
	if err := m.Send(t.Context(), hello); facet.ErrorCode(err) != facet.EUnavailable {
		t.Errorf("Send to a silent service = %v, want code %q", err, facet.EUnavailable)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := m.Send(ctx, hello); !errors.Is(err, context.Canceled) {
		t.Errorf("Send cancelled while the service works = %v, want an error wrapping context.Canceled", err)
	}
}

func TestNew(t *testing.T) {
	cred := &fakeCred{}
	cases := []struct {
		endpoint, sender string
		cred             azcore.TokenCredential
		ok               bool
	}{
		{"https://facet-mail.europe.communication.azure.com", sender, cred, true},
		{"https://facet-mail.europe.communication.azure.com/", sender, cred, true},
		{"http://facet-mail.europe.communication.azure.com", sender, cred, false},
		{"https://facet-mail.europe.communication.azure.com/emails", sender, cred, false},
		{"https://facet-mail.europe.communication.azure.com?x=1", sender, cred, false},
		{"https://user@facet-mail.europe.communication.azure.com", sender, cred, false},
		{"facet-mail.europe.communication.azure.com", sender, cred, false},
		{"", sender, cred, false},
		{"https://facet-mail.europe.communication.azure.com", "", cred, false},
		{"https://facet-mail.europe.communication.azure.com", "Facet <" + sender + ">", cred, false},
		{"https://facet-mail.europe.communication.azure.com", sender, nil, false},
	}
	for _, c := range cases {
		_, err := acsemail.New(c.endpoint, c.sender, c.cred, nil)
		if (err == nil) != c.ok {
			t.Errorf("New(%q, %q, cred %v) = %v, want ok %v", c.endpoint, c.sender, c.cred != nil, err, c.ok)
		}
	}
}
