package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/browsertest"
	"github.com/humaninsight/facet/internal/testenv"
)

// The participant page of a stimulus study, in Chromium with the fake
// camera against the local stack: stimuli uploaded and probed for real,
// the page's viewing log read back from Azurite, the frames of the
// analysis placed on the stimuli.

// studyStimuli makes the test's stimuli with ffmpeg: a 2 s H.264 mp4 of
// the test pattern (2 Mbit/s, so that throttling can starve it) and a png.
func studyStimuli(t *testing.T) (video, image string) {
	t.Helper()
	dir := t.TempDir()
	video, image = filepath.Join(dir, "spot.mp4"), filepath.Join(dir, "poster.png")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
			"-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M", "-g", "25", "-movflags", "+faststart", video},
		{"-f", "lavfi", "-i", "testsrc=size=640x360", "-frames:v", "1", image},
	} {
		if out, err := execCommand("ffmpeg", append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)...); err != nil {
			if _, lerr := exec.LookPath("ffmpeg"); lerr != nil {
				testenv.Skip(t, "ffmpeg not installed")
			}
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	return video, image
}

// stimulus adds a stimulus to project, uploads path through its link and
// waits until it is ready; it returns the stimulus as the API shows it.
func (f *flow) stimulus(project, name, kind, path string, extra map[string]any) map[string]any {
	f.t.Helper()
	body := map[string]any{"name": name, "kind": kind}
	for k, v := range extra {
		body[k] = v
	}
	slot := f.must(201, "POST", "/api/projects/"+project+"/stimuli", f.key, body)
	data, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	if st := put(f.t, slot["uploadUrl"].(string), data); st != 201 {
		f.t.Fatalf("%s: upload answered %d", name, st)
	}
	id := slot["stimulus"].(map[string]any)["id"].(string)
	var got map[string]any
	f.until("stimulus "+name+" ready", func() bool {
		got = f.must(200, "GET", "/api/projects/"+project+"/stimuli/"+id, f.key, nil)
		if got["status"] == string(facet.StimRefused) {
			f.t.Fatalf("stimulus %s refused: %v", name, got["refusal"])
		}
		return got["status"] == string(facet.StimReady)
	})
	return got
}

// startStudy goes from consent to a running study: the camera check
// (saved as shot, if named), then Start.
func startStudy(t *testing.T, b *browsertest.Browser, shot string) {
	t.Helper()
	b.Do(t, 30*time.Second,
		chromedp.Click(chromedp.CSS("#accept")),
		browsertest.WaitJS(visible("record")),
		chromedp.Click(chromedp.CSS("#camera")),
		browsertest.WaitJS(`!document.getElementById("start").hidden`),
		browsertest.WaitJS(`document.getElementById("preview").videoWidth > 0`))
	if shot != "" {
		b.Screenshot(t, shot)
	}
	b.Do(t, 30*time.Second,
		chromedp.Click(chromedp.CSS("#start")),
		browsertest.WaitJS(visible("study")))
}

// viewingLog reads a recording's viewing log from storage.
func (f *flow) viewingLog(project, rec string) facet.ViewingLog {
	f.t.Helper()
	var buf bytes.Buffer
	if err := f.l.Deps.Blobs.Download(context.Background(), project+"/"+rec+facet.ViewingLogSuffix, &buf, facet.DownloadOptions{}); err != nil {
		f.t.Fatalf("viewing log of %s: %v", rec, err)
	}
	var log facet.ViewingLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		f.t.Fatalf("viewing log of %s: %v\n%s", rec, err, buf.String())
	}
	if err := log.Validate(); err != nil {
		f.t.Errorf("viewing log of %s: %v", rec, err)
	}
	j, _ := json.Marshal(log)
	f.t.Logf("viewing log %s", j)
	return log
}

// shownFor returns how long each stimulus was on screen by its log
// (start to end), and the kinds of event logged for each.
func shownFor(log facet.ViewingLog) (map[string]float64, map[string][]string) {
	start, shown, kinds := map[string]float64{}, map[string]float64{}, map[string][]string{}
	for _, e := range log.Events {
		kinds[e.Stimulus] = append(kinds[e.Stimulus], string(e.Kind))
		switch e.Kind {
		case facet.ViewStart:
			start[e.Stimulus] = e.T
		case facet.ViewEnd:
			shown[e.Stimulus] = e.T - start[e.Stimulus]
		}
	}
	return shown, kinds
}

// analysed waits for the recording's analysis and returns the run with
// its frames.
func (f *flow) analysed(rec string) map[string]any {
	f.t.Helper()
	r := f.waitStatus(f.key, rec, "analyzed")
	an := f.must(200, "GET", "/api/recordings/"+rec+"/analyses/"+r["latestAnalysis"].(string), f.key, nil)
	var ts []string
	for _, fr := range an["frames"].([]any) {
		m := fr.(map[string]any)
		ts = append(ts, fmt.Sprintf("%.1f:%v", m["t"], m["stimulus_t"]))
	}
	f.t.Logf("video %v; frames t:stimulus_t %s", an["video"], strings.Join(ts, " "))
	return an
}

// placement is how many frames of a run are placed on one stimulus, and
// their first and last stimulus_t.
type placement struct {
	n           int
	first, last float64
}

// placed sums up the frames of a run by stimulus.
func placed(an map[string]any) map[string]*placement {
	out := map[string]*placement{}
	frames, _ := an["frames"].([]any)
	for _, fr := range frames {
		m := fr.(map[string]any)
		id, _ := m["stimulus"].(string)
		st, ok := m["stimulus_t"].(float64)
		if id == "" || !ok {
			continue
		}
		p := out[id]
		if p == nil {
			p = &placement{first: st}
			out[id] = p
		}
		p.n++
		p.last = st
	}
	return out
}

// framesBetween counts the run's frames strictly inside (from, to) on
// the recording's clock, and those of them placed on a stimulus.
func framesBetween(an map[string]any, from, to float64) (n, onStimulus int) {
	frames, _ := an["frames"].([]any)
	for _, fr := range frames {
		m := fr.(map[string]any)
		if t := m["t"].(float64); t > from && t < to {
			n++
			if m["stimulus"] != nil {
				onStimulus++
			}
		}
	}
	return n, onStimulus
}

// between returns the times of the first event of kind a for stimulus
// id and of the next of kind b.
func between(log facet.ViewingLog, id string, a, b facet.ViewKind) (from, to float64, ok bool) {
	seen := false
	for _, e := range log.Events {
		if e.Stimulus != id {
			continue
		}
		if !seen && e.Kind == a {
			from, seen = e.T, true
		} else if seen && e.Kind == b {
			return from, e.T, true
		}
	}
	return 0, 0, false
}

// warnings returns a run's result warnings.
func warnings(an map[string]any) []string {
	var out []string
	ws, _ := an["warnings"].([]any)
	for _, w := range ws {
		out = append(out, w.(string))
	}
	return out
}

// TestStimulusStudyPage: a study of a 1 s baseline, a 2 s video and an
// image shown for 1.5 s. The page runs the sequence in one recording and
// logs it; the log is in storage beside the video, each stimulus was on
// screen for its time (within 100 ms), and the analysis places the
// frames on the stimuli. A stall of the video (throttled by DevTools)
// shows as waiting and playing; a participant who stops during the video
// sends what was recorded, and it is analysed.
func TestStimulusStudyPage(t *testing.T) {
	f := pageStack(t)
	camera := browsertest.FakeCamera(t, testenv.Shared(t, "media/astronaut.png"))
	project := f.must(201, "POST", "/api/projects", f.key, map[string]any{"name": "Spot test", "privacyMode": "retain", "useContext": "media-testing"})["id"].(string)
	videoFile, imageFile := studyStimuli(t)
	video := f.stimulus(project, "Spot A", "video", videoFile, nil)
	image := f.stimulus(project, "Poster", "image", imageFile, map[string]any{"displayS": 1.5})
	videoID, imageID := video["id"].(string), image["id"].(string)
	videoS := video["media"].(map[string]any)["durationS"].(float64)
	f.must(200, "PATCH", "/api/projects/"+project, f.key, map[string]any{"design": map[string]any{"stimuli": []string{videoID, imageID}, "baselineS": 1}})
	want := map[string]float64{facet.BaselineID: 1, videoID: videoS, imageID: 1.5}
	name := map[string]string{facet.BaselineID: "baseline", videoID: "video", imageID: "image"}

	// run takes one participant through the study; during runs while the
	// study is on screen. It returns the recording once sent.
	run := func(t *testing.T, shot string, during func(b *browsertest.Browser)) string {
		f := f.with(t)
		defer func(start time.Time) { t.Logf("page: %.1f s", time.Since(start).Seconds()) }(time.Now())
		b := browsertest.New(t, browsertest.Options{AllowCamera: true, FakeCamera: camera})
		token := f.invite(project, nil)
		openPage(f, b, token)
		startStudy(t, b, shot)
		if during != nil {
			during(b)
		}
		b.Do(t, 60*time.Second, browsertest.WaitJS(visible("done")))
		noErrors(t, b)
		items := f.must(200, "GET", "/api/projects/"+project+"/invitations", f.key, nil)["items"].([]any)
		rec := items[0].(map[string]any)["recordingId"].(string) // newest first
		// The log went first, as JSON, beside the video.
		ctx := context.Background()
		vi, err := f.l.Deps.Blobs.Stat(ctx, project+"/"+rec)
		if err != nil {
			t.Fatal(err)
		}
		li, err := f.l.Deps.Blobs.Stat(ctx, project+"/"+rec+facet.ViewingLogSuffix)
		if err != nil {
			t.Fatalf("no viewing log beside the video: %v", err)
		}
		if li.ContentType != "application/json" || li.Type != "BlockBlob" || li.LastModified.After(vi.LastModified) {
			t.Errorf("viewing log %+v, video %+v", li, vi)
		}
		return rec
	}

	t.Run("whole sequence", func(t *testing.T) {
		rec := run(t, "participant-study-camera.png", func(b *browsertest.Browser) {
			// The study fills the window.
			if !browsertest.Run(t, b, 5*time.Second, chromedp.Evaluate[bool](
				`(() => { const r = document.getElementById("study").getBoundingClientRect(); return r.width === innerWidth && r.height === innerHeight })()`)) {
				t.Error("the study does not fill the window")
			}
		})
		log := f.viewingLog(project, rec)
		shown, kinds := shownFor(log)
		for _, id := range []string{facet.BaselineID, videoID, imageID} {
			err := shown[id] - want[id]
			t.Logf("%s: shown %.3f s, want %.3f s (%+.0f ms); events %v", name[id], shown[id], want[id], err*1000, kinds[id])
			if math.Abs(err) > 0.1 {
				t.Errorf("%s on screen for %.3f s, want %.3f s ± 0.1", name[id], shown[id], want[id])
			}
		}
		if k := kinds[videoID]; !slices.Contains(k, "playing") || !slices.Contains(k, "ended") {
			t.Errorf("video events %v, want playing and ended", k)
		}
		an := f.analysed(rec)
		t.Logf("warnings %v", warnings(an))
		// Frames are sampled 5 a second (the project's default).
		p := placed(an)
		for _, id := range []string{facet.BaselineID, videoID, imageID} {
			got := p[id]
			if got == nil || got.n < int(want[id]*5*0.6) || got.first > 0.3 || got.last > want[id]+0.05 {
				t.Errorf("frames on the %s: %+v, want about %.0f from 0 to %.1f s", name[id], got, want[id]*5, want[id])
			}
		}
		for _, w := range warnings(an) {
			if strings.HasPrefix(w, "viewing_") {
				t.Errorf("warning %s", w)
			}
		}
	})

	t.Run("stall", func(t *testing.T) {
		rec := run(t, "", func(b *browsertest.Browser) {
			throttle := func(bytesPerS float64) {
				var conds []*network.Conditions
				if bytesPerS > 0 {
					conds = append(conds, &network.Conditions{URLPattern: f.l.Deps.BlobOrigin + "/*/stimuli/*", DownloadThroughput: bytesPerS, UploadThroughput: -1})
				}
				if _, err := chromedp.Call(b.Ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conds}); err != nil {
					t.Fatal(err)
				}
			}
			throttle(40000)
			b.Do(t, 30*time.Second, browsertest.WaitJS(`document.getElementById("study").dataset.waiting === "true"`), chromedp.Sleep(500*time.Millisecond))
			throttle(0)
		})
		log := f.viewingLog(project, rec)
		_, kinds := shownFor(log)
		k := strings.Join(kinds[videoID], " ")
		if !strings.Contains(k, "waiting playing") {
			t.Errorf("video events %s, want a stall (waiting, then playing)", k)
		}
		an := f.analysed(rec)
		// The stall's frames are on nothing; the video's time resumes
		// where it stopped.
		if p := placed(an)[videoID]; p == nil || p.last > videoS+0.05 {
			t.Errorf("frames on the video: %+v", p)
		}
		if from, to, ok := between(log, videoID, facet.ViewWaiting, facet.ViewPlaying); ok {
			if n, on := framesBetween(an, from+0.05, to-0.05); n == 0 || on != 0 {
				t.Errorf("stall %.3f to %.3f s: %d of %d frames placed, want none (of at least one)", from, to, on, n)
			}
		}
		if w := warnings(an); len(w) != 0 {
			t.Errorf("warnings %v", w)
		}
	})

	t.Run("stopped during the video", func(t *testing.T) {
		rec := run(t, "", func(b *browsertest.Browser) {
			b.Do(t, 30*time.Second, browsertest.WaitJS(fmt.Sprintf(
				`document.getElementById("study").dataset.showing === %q && document.querySelector("#study video").currentTime > 0.3`, videoID)))
			// The study on screen, as the participant sees it.
			png := browsertest.Run(t, b, 10*time.Second, chromedp.CaptureScreenshot())
			if err := os.WriteFile(filepath.Join(browsertest.ArtifactDir(t), "participant-study.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("fullscreen: %v", browsertest.Run(t, b, 5*time.Second, chromedp.Evaluate[bool](`document.fullscreenElement !== null`)))
			// The window loses the focus for a moment. Headless Chromium
			// keeps every tab focused and visible (another tab brought to
			// the front changes nothing), so the window's events are
			// dispatched as the browser would.
			b.Do(t, 10*time.Second,
				chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("blur"))`),
				chromedp.Sleep(400*time.Millisecond),
				chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("focus"))`))
			// The stop control shows when the mouse moves.
			if _, err := chromedp.Call(b.Ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseMoved, X: 500, Y: 400}); err != nil {
				t.Fatal(err)
			}
			b.Do(t, 10*time.Second,
				browsertest.WaitJS(`document.getElementById("study").classList.contains("pointer")`),
				chromedp.Click(chromedp.CSS("#abort")))
		})
		log := f.viewingLog(project, rec)
		shown, kinds := shownFor(log)
		if s, ok := shown[videoID]; !ok || s > videoS-0.2 || len(kinds[imageID]) != 0 {
			t.Errorf("stopped during the video: shown %v, events %v", shown, kinds)
		}
		an := f.analysed(rec)
		if !slices.Contains(warnings(an), "viewing_stimulus_skipped:"+imageID) {
			t.Errorf("warnings %v, want the image skipped", warnings(an))
		}
		if p := placed(an); p[videoID] == nil || p[imageID] != nil {
			t.Errorf("frames placed %v", p)
		}
		// Nothing is placed while the window had lost the focus.
		if from, to, ok := between(log, videoID, facet.ViewBlur, facet.ViewFocus); !ok {
			t.Errorf("no blur and focus logged: %v", kinds[videoID])
		} else if n, on := framesBetween(an, from+0.05, to-0.05); n == 0 || on != 0 {
			t.Errorf("focus lost %.3f to %.3f s: %d of %d frames placed, want none (of at least one)", from, to, on, n)
		}
	})
}
