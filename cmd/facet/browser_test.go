package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/browsertest"
	"github.com/humaninsight/facet/internal/testenv"
)

// The participant page and the report, in headless Chromium against the
// local stack: Azurite, the stand-ins, the handler and the host stand-in.

// pageStack is the local stack as `facet dev` runs it: upload links that
// Azurite accepts blocks through, and CORS for the page's origin.
func pageStack(t *testing.T) *flow {
	s := startStack(t, func(c *config) { c.UploadCreateWrite = true })
	return newFlow(t, s, "Page Research")
}

// invite returns a new invitation's token.
func (f *flow) invite(project string, body map[string]any) string {
	f.t.Helper()
	if body == nil {
		body = map[string]any{} // a nil map would be sent as null, which the API refuses
	}
	inv := f.must(201, "POST", "/api/projects/"+project+"/invitations", f.key, body)
	return inv["token"].(string)
}

// visible is a JS test that only the page's section id is shown.
func visible(id string) string {
	return fmt.Sprintf(`(() => { const s = [...document.querySelectorAll("main > section")].filter(e => !e.hidden).map(e => e.id); return s.length === 1 && s[0] === %q })()`, id)
}

// openPage loads the participant page of token and waits for its script.
func openPage(f *flow, b *browsertest.Browser, token string) {
	f.t.Helper()
	b.Do(f.t, 30*time.Second,
		chromedp.Navigate(f.url+"/p/"+token),
		browsertest.WaitJS(`document.getElementById("main").dataset.ready === "true"`))
}

// record goes from consent to a sent recording of about secs seconds,
// with the keyboard where a participant would use it. With shot, a
// screenshot of the recording step is saved under that name.
func record(t *testing.T, b *browsertest.Browser, secs time.Duration, shot ...string) {
	b.Do(t, 60*time.Second,
		// From the step's heading, Tab reaches the first button.
		chromedp.Focus(chromedp.CSS("#consent-title")),
		chromedp.KeyEvent(kb.Tab),
		browsertest.WaitJS(`document.activeElement.id === "accept"`),
		chromedp.KeyEvent("\r"),
		browsertest.WaitJS(visible("record")),
		// The camera button has the focus once the step shows.
		browsertest.WaitJS(`document.activeElement && document.activeElement.id === "camera"`),
		chromedp.KeyEvent("\r"),
		browsertest.WaitJS(`!document.getElementById("start").hidden`),
		browsertest.WaitJS(`document.getElementById("preview").videoWidth > 0`),
		chromedp.Click(chromedp.CSS("#start")),
		chromedp.Sleep(secs))
	for _, name := range shot {
		b.Screenshot(t, name)
	}
	b.Do(t, 30*time.Second,
		chromedp.Click(chromedp.CSS("#stop")),
		browsertest.WaitJS(`!document.getElementById("send").hidden`),
		chromedp.Click(chromedp.CSS("#send")))
}

// recordingOf returns the recording an invitation led to.
func (f *flow) recordingOf(project string) string {
	f.t.Helper()
	items := f.must(200, "GET", "/api/projects/"+project+"/invitations", f.key, nil)["items"].([]any)
	for _, it := range items {
		if id, _ := it.(map[string]any)["recordingId"].(string); id != "" {
			return id
		}
	}
	f.t.Fatalf("no invitation of %s has a recording: %v", project, items)
	return ""
}

// committedBlocks lists the blob's committed blocks (none for a single PUT).
func committedBlocks(t *testing.T, name string) int {
	t.Helper()
	bc, err := blockblob.NewClientFromConnectionString(testenv.BlobService(t).ConnectionString, app.UploadsContainer, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	bl, err := bc.GetBlockList(context.Background(), blockblob.BlockListTypeCommitted, nil)
	if err != nil {
		t.Fatalf("block list of %s: %v", name, err)
	}
	return len(bl.CommittedBlocks)
}

// noErrors fails the test if the page logged errors other than the
// expected ones (substrings).
func noErrors(t *testing.T, b *browsertest.Browser, expected ...string) {
	t.Helper()
	var errs []string
next:
	for _, e := range b.Errors() {
		for _, x := range expected {
			if strings.Contains(e, x) {
				continue next
			}
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		t.Errorf("errors in the page: %q", errs)
	}
}

// visibleNow reports whether section id is the one shown.
func visibleNow(t *testing.T, b *browsertest.Browser, id string) bool {
	return browsertest.Run(t, b, 5*time.Second, chromedp.Evaluate[bool](visible(id)))
}

// TestParticipantPage: open the link, agree, record about 3 s of the fake
// camera (the astronaut photo), upload in blocks to Azurite, and the
// recording is analysed through the host stand-in with happy dominant.
func TestParticipantPage(t *testing.T) {
	f := pageStack(t)
	b := browsertest.New(t, browsertest.Options{AllowCamera: true,
		FakeCamera: browsertest.FakeCamera(t, testenv.Shared(t, "media/astronaut.png"))})
	project := f.must(201, "POST", "/api/projects", f.key, map[string]any{"name": "Spring campaign: 30 s spot", "privacyMode": "retain", "useContext": "market-research"})["id"].(string)
	token := f.invite(project, map[string]any{"participantRef": "P-7"})

	openPage(f, b, token)
	if !strings.Contains(b.Text(t, "#consent-text"), "facial expressions") || !strings.Contains(b.Text(t, "#deletion"), "deleted") {
		t.Errorf("consent step does not say what is analysed and when the video is deleted")
	}
	b.Screenshot(t, "participant-consent.png")
	// On a phone's screen nothing is wider than the page.
	b.Do(t, 10*time.Second, chromedp.EmulateViewport(390, 844))
	if !browsertest.Run(t, b, 10*time.Second, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("the participant page is wider than a phone's screen")
	}
	b.Screenshot(t, "participant-phone.png")
	b.Do(t, 10*time.Second, chromedp.EmulateViewport(1000, 900))
	record(t, b, 3*time.Second, "participant-recording.png")
	b.Do(t, 60*time.Second, browsertest.WaitJS(visible("done")))
	if p := b.Text(t, "#progress-text"); p != "100 %" {
		t.Errorf("progress ends at %q", p)
	}
	noErrors(t, b)

	rec := f.recordingOf(project)
	if n := committedBlocks(t, project+"/"+rec); n != 1 {
		t.Errorf("%d committed blocks, want 1 (Put Block + Put Block List)", n)
	}
	r := f.waitStatus(f.key, rec, "analyzed")
	an := f.must(200, "GET", "/api/recordings/"+rec+"/analyses/"+r["latestAnalysis"].(string), f.key, nil)
	sum := an["summary"].(map[string]any)
	dom := sum["dominant"].(map[string]any)
	best := ""
	for k, v := range dom {
		if best == "" || v.(float64) > dom[best].(float64) {
			best = k
		}
	}
	dur := an["video"].(map[string]any)["duration_s"].(float64)
	if best != "happy" || sum["face_ratio"].(float64) < 0.9 || dur < 2 || dur > 6 {
		t.Errorf("recording of %.1f s: dominant %q (%v), face ratio %v; want happy, a face throughout, about 3 s", dur, best, dom, sum["face_ratio"])
	}
	if r["participantRef"] != "P-7" || r["consentSource"] != "participant" {
		t.Errorf("recording %v", r)
	}

	// A reload after sending shows the done screen, not a dead link.
	openPage(f, b, token)
	b.Do(t, 10*time.Second, browsertest.WaitJS(visible("done")))
}

// TestParticipantPageErrors: the states a participant can meet besides
// the happy path, each with a clear message and nothing lost.
func TestParticipantPageErrors(t *testing.T) {
	f := pageStack(t)
	camera := browsertest.FakeCamera(t, testenv.Shared(t, "media/astronaut.png"))
	project := f.project("retain", nil)

	t.Run("unknown and expired links", func(t *testing.T) {
		f := f.with(t)
		b := browsertest.New(t, browsertest.Options{})
		openPage(f, b, strings.Repeat("x", 32))
		if !strings.Contains(b.Text(t, "#problem-text"), "not valid") {
			t.Errorf("unknown link: %q", b.Text(t, "#problem-text"))
		}
		token := f.invite(project, map[string]any{"expiresInS": 60})
		expire(f, token)
		openPage(f, b, token)
		b.Do(t, 10*time.Second, browsertest.WaitJS(visible("problem")))
		if msg := b.Text(t, "#problem-text"); !strings.Contains(msg, "expired") {
			t.Errorf("expired link: %q", msg)
		}
		noErrors(t, b, "status of 404 (Not Found)", "status of 410 (Gone)")
	})

	t.Run("consent declined", func(t *testing.T) {
		f := f.with(t)
		b := browsertest.New(t, browsertest.Options{})
		token := f.invite(project, nil)
		openPage(f, b, token)
		b.Do(t, 10*time.Second,
			chromedp.Click(chromedp.CSS("#decline")),
			browsertest.WaitJS(visible("declined")))
		if !strings.Contains(b.Text(t, "#declined"), "No video was recorded") {
			t.Errorf("declined screen: %q", b.Text(t, "#declined"))
		}
		// Nothing was stored and the link still works.
		st, _ := f.call("GET", "/api/invitations/"+token, "", nil)
		recs := f.must(200, "GET", "/api/projects/"+project+"/recordings", f.key, nil)["items"].([]any)
		if st != 200 || len(recs) != 0 {
			t.Errorf("after declining: invitation %d, %d recordings", st, len(recs))
		}
		b.Do(t, 10*time.Second, chromedp.Click(chromedp.CSS("#reconsider")), browsertest.WaitJS(visible("consent")))
		noErrors(t, b)
	})

	t.Run("camera denied", func(t *testing.T) {
		f := f.with(t)
		b := browsertest.New(t, browsertest.Options{FakeCamera: camera}) // prompts denied
		token := f.invite(project, nil)
		openPage(f, b, token)
		b.Do(t, 30*time.Second,
			chromedp.Click(chromedp.CSS("#accept")),
			browsertest.WaitJS(visible("record")),
			chromedp.Click(chromedp.CSS("#camera")),
			browsertest.WaitJS(`document.getElementById("status").textContent.includes("blocked")`))
		if msg := b.Text(t, "#status"); !strings.Contains(msg, "Camera access was blocked") {
			t.Errorf("camera denied: %q", msg)
		}
		// The link is used now, but this tab keeps its upload link: a
		// reload returns to the camera step instead of a dead end.
		openPage(f, b, token)
		b.Do(t, 10*time.Second, browsertest.WaitJS(visible("record")))
		noErrors(t, b, "status of 410 (Gone)") // the reload: the link itself is used
	})

	t.Run("upload interrupted", func(t *testing.T) {
		f := f.with(t)
		b := browsertest.New(t, browsertest.Options{AllowCamera: true, FakeCamera: camera})
		token := f.invite(project, nil)
		// Storage drops off the network while the page sends: the page
		// retries with back-off, then offers Try again. Pressed while still
		// offline, the first attempt fails again, the connection comes back,
		// and the page's own next retry completes the upload.
		offline := func(on bool) {
			var conds []*network.Conditions
			if on {
				conds = append(conds, &network.Conditions{URLPattern: f.l.Deps.BlobOrigin + "/*", Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
			}
			if _, err := chromedp.Call(b.Ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conds}); err != nil {
				t.Fatal(err)
			}
		}
		openPage(f, b, token)
		offline(true)
		record(t, b, 2*time.Second)
		b.Do(t, 90*time.Second, browsertest.WaitJS(`!document.getElementById("retry").hidden`))
		if msg := b.Text(t, "#status"); !strings.Contains(msg, "connection was interrupted") {
			t.Errorf("upload failure message: %q", msg)
		}
		b.Do(t, 10*time.Second, chromedp.Click(chromedp.CSS("#retry")), chromedp.Sleep(1500*time.Millisecond))
		if !strings.Contains(b.Text(t, "#progress-text"), "0 %") || visibleNow(t, b, "done") {
			t.Errorf("the upload completed while storage was unreachable")
		}
		offline(false)
		b.Do(t, 60*time.Second, browsertest.WaitJS(visible("done")))
		rec := f.recordingOf(project)
		if n := committedBlocks(t, project+"/"+rec); n != 1 {
			t.Errorf("%d committed blocks, want 1", n)
		}
		f.waitStatus(f.key, rec, "analyzed")
		noErrors(t, b, "ERR_INTERNET_DISCONNECTED")
	})

	t.Run("refused and expired upload links", func(t *testing.T) {
		// Storage refuses a link (here: a broken signature). Before the
		// link's time is over that is a refusal; after it, an expired link.
		f := f.with(t)
		b, slot := uploaderPage(f, project)
		broken := strings.Replace(slot["uploadUrl"].(string), "sig=", "sig=x", 1)
		for _, c := range []struct {
			expires time.Time
			kind    string
		}{{time.Now().Add(time.Hour), "refused"}, {time.Now().Add(-time.Minute), "expired"}} {
			sj, _ := json.Marshal(map[string]any{"uploadUrl": broken, "expiresAt": c.expires})
			kind := browsertest.Run(t, b, 30*time.Second, chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
				const { Uploader } = await import("/p/assets/upload.js");
				try { await new Uploader(new Blob(["x"]), %s).run(); return "uploaded"; } catch (e) { return e.kind + ": " + e.status; }
			})()`, sj), chromedp.EvalAwaitPromise))
			if kind != c.kind+": 403" {
				t.Errorf("broken link, expiry %s: %q, want %s", c.expires.Format(time.TimeOnly), kind, c.kind)
			}
		}
	})

	t.Run("blocks", func(t *testing.T) {
		// A recording larger than one block goes up as several blocks and
		// arrives whole: the page's uploader on a real video, 64 KiB blocks.
		f := f.with(t)
		b, slot := uploaderPage(f, project)
		video := f.video
		sj, _ := json.Marshal(slot)
		attempts := browsertest.Run(t, b, 60*time.Second, chromedp.Evaluate[int](fmt.Sprintf(`(async () => {
			const { Uploader } = await import("/p/assets/upload.js");
			const bytes = Uint8Array.from(atob(%q), c => c.charCodeAt(0));
			const u = new Uploader(new Blob([bytes], { type: "video/mp4" }), %s, { blockSize: 65536 });
			await u.run();
			return u.attempts;
		})()`, base64.StdEncoding.EncodeToString(video), sj), chromedp.EvalAwaitPromise))
		rec := slot["recordingId"].(string)
		want := (len(video) + 65535) / 65536
		if n := committedBlocks(t, project+"/"+rec); n != want || attempts != want+1 {
			t.Errorf("%d blocks committed in %d requests, want %d blocks and one commit", n, attempts, want)
		}
		var got strings.Builder
		if err := f.l.Deps.Blobs.Download(context.Background(), project+"/"+rec, &got, facet.DownloadOptions{}); err != nil || got.String() != string(video) {
			t.Errorf("the uploaded blob differs from the video (%d of %d bytes, %v)", got.Len(), len(video), err)
		}
		f.waitStatus(f.key, rec, "analyzed")
		noErrors(t, b)
	})
}

// uploaderPage opens a participant page (for its origin, CSP and
// scripts) and consents through the API: the tests then drive the page's
// Uploader with the slot directly.
func uploaderPage(f *flow, project string) (*browsertest.Browser, map[string]any) {
	f.t.Helper()
	b := browsertest.New(f.t, browsertest.Options{})
	token := f.invite(project, nil)
	openPage(f, b, token)
	return b, f.must(201, "POST", "/api/invitations/"+token+"/consent", "", map[string]any{"accept": true, "consentVersion": app.DefaultConsentVersion})
}

// expire moves an invitation's expiry into the past, as time would.
func expire(f *flow, token string) {
	f.t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256([]byte(token)) // the store keys invitations by the token's hash
	id := hex.EncodeToString(sum[:])
	doc, err := f.l.Deps.Store.Read(ctx, facet.CInvitations, id, id)
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(doc.JSON, &m)
	m["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	body, _ := json.Marshal(m)
	if _, err := f.l.Deps.Store.Replace(ctx, facet.CInvitations, id, body, ""); err != nil {
		f.t.Fatal(err)
	}
}

// TestReportPage: the project report in Chromium after real analyses on
// the local stack: no errors under its CSP, the expected chart series,
// age and gender only from 5 recordings on, readable on a phone and in
// print. Screenshots are left in the test artefacts.
func TestReportPage(t *testing.T) {
	s := startStack(t)
	f := newFlow(t, s, "Report Research")
	project := f.project("retain", nil)
	b := browsertest.New(t, browsertest.Options{})
	if _, err := chromedp.Call(b.Ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Bearer " + f.key}}); err != nil {
		t.Fatal(err)
	}
	count := func(sel string) int {
		return browsertest.Run(t, b, 10*time.Second, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	}
	load := func(n int) {
		t.Helper()
		b.Do(t, 30*time.Second,
			chromedp.Navigate(s.url+"/api/projects/"+project+"/report"),
			browsertest.WaitJS(`document.readyState === "complete"`))
		if got := b.Text(t, "#project h2"); got != fmt.Sprintf("All recordings (%d)", n) {
			t.Errorf("project heading %q", got)
		}
		// Per recording 7 emotions and valence; for the project the 7 mean
		// emotions; every series drawn as a line with points.
		if got, want := count("svg polyline.series"), 7+8*n; got != want {
			t.Errorf("%d recordings: %d chart series, want %d", n, got, want)
		}
		if got := count(`svg polyline.series[points=""]`); got != 0 {
			t.Errorf("%d empty series", got)
		}
		noErrors(t, b)
	}

	// Recordings of different people and lengths, aligned from their start.
	for _, v := range []string{"pyfeat_WolfgangLanger_Pexels.mp4", "pyfeat_single_face.mp4", "pyfeat_face_noface.mov", "synthetic_faces_640x480.mp4"} {
		video, err := os.ReadFile(testenv.Shared(t, "media/"+v))
		if err != nil {
			t.Fatal(err)
		}
		f.video = video
		f.recording(project, true)
	}
	load(4)
	if count("#demographics") != 0 || !strings.Contains(b.Text(t, "#project"), "from 5 recordings on") {
		t.Error("age and gender shown for 4 recordings")
	}
	b.Screenshot(t, "report-4-recordings.png")

	f.recording(project, true)
	load(5)
	if count("#demographics svg.chart") != 2 {
		t.Errorf("5 recordings: %d demographic charts, want age and gender", count("#demographics svg.chart"))
	}
	b.Screenshot(t, "report.png")

	// A phone's width and print: nothing wider than the page.
	overflow := `document.documentElement.scrollWidth <= window.innerWidth`
	b.Do(t, 10*time.Second, chromedp.EmulateViewport(390, 844))
	if !browsertest.Run(t, b, 10*time.Second, chromedp.Evaluate[bool](overflow)) {
		t.Error("the report is wider than a phone's screen")
	}
	b.Screenshot(t, "report-phone.png")
	if _, err := chromedp.Call(b.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if !browsertest.Run(t, b, 10*time.Second, chromedp.Evaluate[bool](overflow)) {
		t.Error("the report overflows in print")
	}
	noErrors(t, b)
}

// TestOpenLinkPage: a panel's participant arrives through an open link
// with ?ext=; the recording keeps the panel's id as its participantRef,
// and once sent the page takes the participant to the survey's
// completion URL with the id filled in.
func TestOpenLinkPage(t *testing.T) {
	f := pageStack(t)
	b := browsertest.New(t, browsertest.Options{AllowCamera: true,
		FakeCamera: browsertest.FakeCamera(t, testenv.Shared(t, "media/astronaut.png"))})
	project := f.must(201, "POST", "/api/projects", f.key, map[string]any{"name": "Panel wave 1", "privacyMode": "retain", "useContext": "market-research"})["id"].(string)
	token := f.invite(project, map[string]any{"quota": 50, "allowExt": true, "completionUrl": "https://survey.invalid/done?pid={ext}&src=facet"})
	// The survey's host does not exist: the navigation is seen as the
	// browser asks for it, before it fails.
	asked := make(chan string, 8)
	chromedp.Listen(b.Ctx, func(ev any) {
		if e, ok := ev.(*page.EventFrameRequestedNavigation); ok {
			select {
			case asked <- e.URL:
			default:
			}
		}
	})
	b.Do(t, 30*time.Second,
		chromedp.Navigate(f.url+"/p/"+token+"?ext=PNL-0042"),
		browsertest.WaitJS(`document.getElementById("main").dataset.ready === "true"`))
	record(t, b, 2*time.Second)
	want := "https://survey.invalid/done?pid=PNL-0042&src=facet"
	timeout := time.After(20 * time.Second)
	for found := false; !found; {
		select {
		case u := <-asked:
			found = u == want
		case <-timeout:
			t.Fatalf("the page never went to %s", want)
		}
	}
	items := f.must(200, "GET", "/api/projects/"+project+"/recordings", f.key, nil)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("%d recordings through the open link, want 1", len(items))
	}
	rec := items[0].(map[string]any)["id"].(string)
	if r := f.waitStatus(f.key, rec, "analyzed"); r["participantRef"] != "PNL-0042" {
		t.Errorf("recording of an open link: participantRef %v, want the panel's id", r["participantRef"])
	}
}
