package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/humaninsight/facet"
)

// TestStimulusUploadLocalStack: a client adds stimuli and uploads their
// files through the links (Azurite); the blob events reach the handler
// (devhost), the probe runs ffprobe and ffmpeg for real: an H.264 mp4
// and a png become ready with their media facts and thumbnail strips,
// an mp3 is refused with the reason and its file deleted.
func TestStimulusUploadLocalStack(t *testing.T) {
	s := startStack(t)
	f := newFlow(t, s, "Stimulus Research")
	p := s.must(201, "POST", "/api/projects", f.key, map[string]any{"name": "Spots", "privacyMode": "retain", "useContext": "media-testing"})["id"].(string)
	dir := t.TempDir()
	png, mp3 := filepath.Join(dir, "poster.png"), filepath.Join(dir, "jingle.mp3")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1", png},
		{"-f", "lavfi", "-i", "sine=d=1", mp3},
	} {
		if out, err := execCommand("ffmpeg", append([]string{"-nostdin", "-loglevel", "error", "-y"}, args...)...); err != nil {
			if _, lerr := exec.LookPath("ffmpeg"); lerr != nil {
				t.Skip("ffmpeg not installed")
			}
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	upload := func(name, kind, path string) string {
		slot := s.must(201, "POST", "/api/projects/"+p+"/stimuli", f.key, map[string]any{"name": name, "kind": kind})
		data := f.video
		if path != "" {
			var err error
			if data, err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		}
		if st := put(t, slot["uploadUrl"].(string), data); st != 201 {
			t.Fatalf("%s: upload answered %d", name, st)
		}
		return slot["stimulus"].(map[string]any)["id"].(string)
	}
	video, poster, jingle := upload("Spot A", "video", ""), upload("Poster", "image", png), upload("Jingle", "video", mp3)
	wait := func(id, want string) map[string]any {
		deadline := time.Now().Add(60 * time.Second)
		var got map[string]any
		for time.Now().Before(deadline) {
			got = s.must(200, "GET", "/api/projects/"+p+"/stimuli/"+id, f.key, nil)
			if got["status"] == want {
				return got
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("stimulus %s never became %s: %v", id, want, got)
		return nil
	}
	v := wait(video, string(facet.StimReady))
	m := v["media"].(map[string]any)
	if m["container"] != "mp4" || m["videoCodec"] != "h264" || m["width"] != 640.0 || m["durationS"].(float64) < 1 || v["thumbnails"] != float64(facet.StimulusThumbnails) {
		t.Errorf("video stimulus %v", v)
	}
	if im := wait(poster, string(facet.StimReady)); im["media"].(map[string]any)["container"] != "png" || im["thumbnails"] != 1.0 {
		t.Errorf("image stimulus %v", im)
	}
	j := wait(jingle, string(facet.StimRefused))
	if r, _ := j["refusal"].(map[string]any); r == nil || r["code"] != facet.EUnprocessable {
		t.Errorf("mp3 stimulus %v", j)
	}
	var blobs []string
	s.l.Deps.Blobs.List(t.Context(), facet.StimulusPrefix+p+"/", func(b facet.BlobInfo) error { blobs = append(blobs, b.Name); return nil })
	want := 1 + facet.StimulusThumbnails + 1 + 1 // the video and its strip, the image and its frame
	if len(blobs) != want {
		t.Errorf("%d stimulus blobs, want %d (the refused file gone): %v", len(blobs), want, blobs)
	}
}
