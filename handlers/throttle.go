package handlers

import (
	clist "container/list"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Guessing defaults: a source may fail authentication this many times in
// one window; the number of sources tracked at once is bounded.
const (
	AuthFailures   = 10
	AuthWindow     = time.Minute
	AuthMaxSources = 10000
)

// Throttle slows down guessing of keys. It counts failed authentications
// per source in fixed windows: a source's window opens at its first
// failure and lasts Window; once it holds Limit failures, the source is
// refused until the window ends. Successes change nothing (a source that
// owns one key must not be able to wipe its record of guessing others').
// At most MaxSources sources are tracked; when one more fails, the one
// whose window opened first is forgotten, so an attacker rotating
// addresses cannot grow the table, and gains nothing from flushing it:
// each new address has its own Limit anyway. Safe for concurrent use.
type Throttle struct {
	Limit      int
	Window     time.Duration
	MaxSources int
	Now        func() time.Time // the clock; tests set it

	mu      sync.Mutex
	sources map[string]*clist.Element // of *throttled
	order   *clist.List               // oldest window first
}

type throttled struct {
	source string
	start  time.Time // the window's opening
	fails  int
}

// NewThrottle returns a Throttle with the given limits and the wall clock.
func NewThrottle(limit int, window time.Duration, maxSources int) *Throttle {
	return &Throttle{Limit: limit, Window: window, MaxSources: maxSources, Now: time.Now}
}

// Blocked reports whether source is refused now, and for how long.
func (t *Throttle) Blocked(source string) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.sources[source]
	if !ok {
		return 0, false
	}
	e := el.Value.(*throttled)
	left := e.start.Add(t.Window).Sub(t.Now())
	if left <= 0 || e.fails < t.Limit {
		return 0, false
	}
	return left, true
}

// Fail records a failed authentication from source.
func (t *Throttle) Fail(source string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sources == nil {
		t.sources, t.order = map[string]*clist.Element{}, clist.New()
	}
	now := t.Now()
	t.expire(now)
	if el, ok := t.sources[source]; ok {
		e := el.Value.(*throttled)
		if now.Before(e.start.Add(t.Window)) {
			e.fails++
			return
		}
		e.start, e.fails = now, 1 // a new window
		t.order.MoveToBack(el)
		return
	}
	for t.order.Len() >= max(t.MaxSources, 1) {
		t.forget(t.order.Front())
	}
	t.sources[source] = t.order.PushBack(&throttled{source: source, start: now, fails: 1})
}

// Len returns the number of sources tracked.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sources)
}

// expire forgets the sources whose window has ended: they are at the front.
func (t *Throttle) expire(now time.Time) {
	for el := t.order.Front(); el != nil && !now.Before(el.Value.(*throttled).start.Add(t.Window)); el = t.order.Front() {
		t.forget(el)
	}
}

func (t *Throttle) forget(el *clist.Element) {
	delete(t.sources, el.Value.(*throttled).source)
	t.order.Remove(el)
}

// clientAddr names the source of a request for the throttle. Behind the
// Functions host, RemoteAddr is the host itself; the platform's front end
// adds the caller's address to X-Forwarded-For. The last entry is used,
// not the first: a caller may send its own X-Forwarded-For, and the front
// end appends to it, so the first entry is whatever the caller chose and
// would give every guess a fresh source. Loopback entries (a proxy on
// this machine) are skipped. IPv6 callers are counted per /64, the block
// a single subscriber usually holds.
func clientAddr(r *http.Request) string {
	xff := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(xff) - 1; i >= 0; i-- {
		if a, ok := parseAddr(xff[i]); ok && !a.IsLoopback() {
			return sourceKey(a)
		}
	}
	if a, ok := parseAddr(r.RemoteAddr); ok {
		return sourceKey(a)
	}
	return r.RemoteAddr
}

// parseAddr reads "ip", "ip:port" or "[ip6]:port".
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func sourceKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
