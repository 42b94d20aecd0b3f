package inmem_test

import (
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
	"github.com/humaninsight/facet/internal/porttest"
)

func TestHooksPort(t *testing.T) {
	porttest.HookSender(t, func(t *testing.T) (facet.HookSender, func(http.Handler) string) {
		k := &inmem.Hooks{Timeout: 300 * time.Millisecond}
		return k, func(h http.Handler) string {
			origin := "https://" + strings.ToLower(rand.Text()[:12]) + ".hooks.example"
			k.Handle(origin, h)
			return origin + "/facet"
		}
	})
}

func TestHooksOrigins(t *testing.T) {
	ctx := t.Context()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	cases := []struct {
		origin     string
		allowLocal bool
		url        string
		code       string // of the error; "" for an answer
	}{
		{"https://hooks.example.com", false, "https://hooks.example.com/facet?x=1", ""},
		{"https://Hooks.Example.COM:443/", false, "https://hooks.example.com/facet", ""},
		{"https://hooks.example.com", false, "https://HOOKS.example.com:443/facet", ""},
		{"https://hooks.example.com", false, "https://hooks.example.com:8443/facet", facet.EUnavailable},
		{"https://hooks.example.com", false, "https://other.example.com/facet", facet.EUnavailable},
		{"http://hooks.example.com", false, "http://hooks.example.com/facet", facet.EInvalid},
		{"http://127.0.0.1:7071", true, "http://127.0.0.1:7071/facet", ""},
		{"http://127.0.0.1:7071", false, "http://127.0.0.1:7071/facet", facet.EInvalid},
		{"http://localhost:7071", true, "http://localhost:7071/facet", ""},
		{"https://10.0.0.1", true, "https://10.0.0.1/facet", facet.EInvalid},
	}
	for _, c := range cases {
		k := &inmem.Hooks{AllowLocal: c.allowLocal}
		k.Handle(c.origin, ok)
		ans, err := k.Post(ctx, facet.HookPost{URL: c.url, Body: []byte(`{}`)})
		if facet.ErrorCode(err) != c.code || (c.code == "" && ans.Status != http.StatusNoContent) {
			t.Errorf("handler of %s, post to %s (allowLocal %v) = %+v, %v; want code %q", c.origin, c.url, c.allowLocal, ans, err, c.code)
		}
		if ans.Latency <= 0 {
			t.Errorf("post to %s: latency %v, want it filled", c.url, ans.Latency)
		}
	}
}

func TestHooksHandleNilRemoves(t *testing.T) {
	k := &inmem.Hooks{}
	k.Handle("https://hooks.example.com", http.NotFoundHandler())
	k.Handle("https://hooks.example.com", nil)
	if _, err := k.Post(t.Context(), facet.HookPost{URL: "https://hooks.example.com/", Body: []byte(`{}`)}); facet.ErrorCode(err) != facet.EUnavailable {
		t.Errorf("post to a removed origin = %v, want code %q", err, facet.EUnavailable)
	}
}

func TestHooksHandleBadOrigin(t *testing.T) {
	for _, origin := range []string{"", "hooks.example.com", "ftp://hooks.example.com", "https://", "https://hooks.example.com/facet", "https://hooks.example.com?x=1", "https://u@hooks.example.com"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", origin)
				}
			}()
			(&inmem.Hooks{}).Handle(origin, http.NotFoundHandler())
		}()
	}
}

// TestHooksPosts checks the log: every post whose URL passed the check, as
// copies that neither the caller's later changes nor the reader's reach.
func TestHooksPosts(t *testing.T) {
	ctx := t.Context()
	var seen http.Header
	k := &inmem.Hooks{}
	k.Handle("https://hooks.example.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
	}))
	p := facet.HookPost{URL: "https://hooks.example.com/a", Body: []byte(`{"n":1}`), Header: map[string]string{"Facet-Signature": "v1=ab"}}
	if _, err := k.Post(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Body[5] = '2'
	p.Header["Facet-Signature"] = "changed"
	if _, err := k.Post(ctx, facet.HookPost{URL: "https://10.0.0.1/", Body: []byte(`{}`)}); facet.ErrorCode(err) != facet.EInvalid {
		t.Fatalf("post to a private address = %v, want code %q", err, facet.EInvalid)
	}
	if _, err := k.Post(ctx, facet.HookPost{URL: "https://nobody.example.com/b", Body: []byte(`{}`)}); facet.ErrorCode(err) != facet.EUnavailable {
		t.Fatalf("post to an unregistered origin = %v, want code %q", err, facet.EUnavailable)
	}

	want := []facet.HookPost{
		{URL: "https://hooks.example.com/a", Body: []byte(`{"n":1}`), Header: map[string]string{"Facet-Signature": "v1=ab"}},
		{URL: "https://nobody.example.com/b", Body: []byte(`{}`)},
	}
	got := k.Posts()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Posts (-want +got):\n%s", diff)
	}
	got[0].Body[0] = 'X'
	got[0].Header["Facet-Signature"] = "changed"
	if diff := cmp.Diff(want, k.Posts()); diff != "" {
		t.Errorf("Posts after changing a returned copy (-want +got):\n%s", diff)
	}
	if ua := seen.Get("User-Agent"); ua != "facet-webhooks/1" {
		t.Errorf("User-Agent = %q, want httphook's facet-webhooks/1", ua)
	}
}

// TestHooksAnswerLimit checks that a handler can write 4 KiB of answer and
// no more, as over a connection the sender closes after reading that much.
func TestHooksAnswerLimit(t *testing.T) {
	var n int64
	var werr error
	k := &inmem.Hooks{}
	k.Handle("https://hooks.example.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		n, werr = io.Copy(w, strings.NewReader(strings.Repeat("x", 1<<20)))
	}))
	ans, err := k.Post(t.Context(), facet.HookPost{URL: "https://hooks.example.com/", Body: []byte(`{}`)})
	if err != nil || ans.Status != http.StatusAccepted {
		t.Fatalf("Post = %+v, %v; want status 202", ans, err)
	}
	if n != 4<<10 || werr == nil {
		t.Errorf("handler wrote %d bytes, error %v; want 4096 and an error", n, werr)
	}
}

func TestHooksHandlerPanic(t *testing.T) {
	k := &inmem.Hooks{}
	k.Handle("https://hooks.example.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	if _, err := k.Post(t.Context(), facet.HookPost{URL: "https://hooks.example.com/", Body: []byte(`{}`)}); facet.ErrorCode(err) != facet.EUnavailable {
		t.Errorf("post to a panicking handler = %v, want code %q", err, facet.EUnavailable)
	}
}

func TestHooksBadHeader(t *testing.T) {
	k := &inmem.Hooks{}
	k.Handle("https://hooks.example.com", http.NotFoundHandler())
	for _, h := range []map[string]string{{"Bad Name": "v"}, {"": "v"}, {"Facet-Signature": "a\r\nInjected: 1"}, {"X": "nul\x00"}} {
		_, err := k.Post(t.Context(), facet.HookPost{URL: "https://hooks.example.com/", Body: []byte(`{}`), Header: h})
		if err == nil || facet.ErrorCode(err) == facet.EUnavailable || facet.ErrorCode(err) == facet.EInvalid {
			t.Errorf("post with header %q = %v, want a plain error (the caller's mistake)", h, err)
		}
	}
	if got := len(k.Posts()); got != 0 {
		t.Errorf("%d posts logged, want none", got)
	}
}
