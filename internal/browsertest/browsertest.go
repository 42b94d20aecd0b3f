// Package browsertest drives Debian's Chromium, headless, for the tests of
// the report and the participant page (chromedp over the DevTools
// protocol). Each browser has a fresh profile and none of Chromium's
// background traffic; console errors, uncaught exceptions and CSP
// violations are collected so a test can require there are none.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/humaninsight/facet/internal/testenv"
)

// Options choose how the browser treats the camera.
type Options struct {
	// FakeCamera is a .y4m file the fake camera plays (see FakeCamera).
	FakeCamera string
	// AllowCamera grants camera access without a prompt; false denies it.
	AllowCamera bool
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	Ctx context.Context // the tab: pass it to chromedp.Run

	mu     sync.Mutex
	errors []string
}

// Path returns the Chromium to use: FACET_CHROMIUM, or chromium on PATH.
func Path() (string, error) {
	if p := os.Getenv("FACET_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium not found on PATH (make setup installs Debian's chromium; FACET_CHROMIUM names another)")
}

// New starts Chromium for the test and stops it when the test ends. It
// skips the test (fails it under FACET_REQUIRE_INTEGRATION) when Chromium
// is not installed.
func New(t testing.TB, o Options) *Browser {
	t.Helper()
	path, err := Path()
	if err != nil {
		testenv.Skip(t, err.Error())
	}
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1000, 900),
	}
	if o.FakeCamera != "" {
		flags = append(flags,
			chromedp.Flag("use-fake-device-for-media-stream", true),
			chromedp.Flag("use-file-for-fake-video-capture", o.FakeCamera))
	}
	if o.AllowCamera {
		flags = append(flags, chromedp.Flag("use-fake-ui-for-media-stream", true))
	} else {
		flags = append(flags, chromedp.Flag("deny-permission-prompts", true))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), flags...)
	b := &Browser{}
	ctx, cancelB := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					if a.Description != "" {
						parts = append(parts, a.Description)
					} else {
						parts = append(parts, strings.Trim(string(a.Value), `"`))
					}
				}
				b.add("console.error: " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.add("exception: " + msg)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				b.add("log: " + e.Entry.Text + " " + e.Entry.URL)
			}
		}
	}))
	b.Ctx = ctx
	// The first Do starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	t.Cleanup(func() { cancelB(); cancelA() })
	return b
}

func (b *Browser) add(s string) {
	b.mu.Lock()
	b.errors = append(b.errors, s)
	b.mu.Unlock()
}

// Errors returns the console errors, uncaught exceptions and error log
// entries (CSP violations, failed loads) seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Do runs steps in the tab with a deadline, failing the test on error.
func (b *Browser) Do(t testing.TB, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	Run(t, b, timeout, chromedp.Steps(steps...))
}

// Run runs one action in the tab with a deadline and returns its value.
func Run[T any](t testing.TB, b *Browser, timeout time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v (errors in the page: %q)", err, b.Errors())
	}
	return v
}

// WaitJS polls the expression until it is true.
func WaitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond))(ctx, t)
		return chromedp.Void{}, err
	}
}

// Text returns the text content of the first element matching the CSS
// selector, shown or not.
func (b *Browser) Text(t testing.TB, sel string) string {
	t.Helper()
	return Run(t, b, 10*time.Second, chromedp.TextContent(chromedp.CSS(sel), chromedp.NodeReady))
}

// ArtifactDir is where tests leave files for people to look at:
// FACET_TEST_ARTIFACTS, or .cache/test-artifacts in the checkout.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("FACET_TEST_ARTIFACTS")
	if d == "" {
		d = filepath.Join(testenv.RepoRoot(), ".cache", "test-artifacts")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// Screenshot saves a full-page PNG of the tab as name in ArtifactDir and
// returns its path.
func (b *Browser) Screenshot(t testing.TB, name string) string {
	t.Helper()
	png := Run(t, b, 30*time.Second, chromedp.FullScreenshot(100))
	p := filepath.Join(ArtifactDir(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// FakeCamera turns a still image into a .y4m clip for Chromium's fake
// camera (which loops it), with ffmpeg.
func FakeCamera(t testing.TB, image string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "camera.y4m")
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-loop", "1", "-i", image,
		"-t", "2", "-r", "15", "-vf", "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,format=yuv420p",
		"-f", "yuv4mpegpipe", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("browsertest: fake camera from %s: %v\n%s", image, err, b)
	}
	return out
}

// Axe runs axe-core on the tab's page and returns its serious and
// critical violations, one line each (rule, impact, the first nodes).
// axe-core comes from tools/ (npm, pinned in tools/package-lock.json);
// DevTools evaluation is not bound by the page's CSP, so the page needs
// no exception for it.
func (b *Browser) Axe(t testing.TB) []string {
	t.Helper()
	src, err := os.ReadFile(testenv.File(t, "tools/node_modules/axe-core/axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	Run(t, b, 10*time.Second, chromedp.Evaluate[bool](string(src)+";true"))
	return Run(t, b, 60*time.Second, chromedp.Evaluate[[]string](`(async () => {
		const r = await axe.run(document, { resultTypes: ["violations"] });
		return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
	})()`, chromedp.EvalAwaitPromise))
}
