package ffmpeg

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Frame-counter clips: frame N of the 25 fps source shows N in binary, as
// counterBits vertical bars (bit i, least significant first, white for 1),
// so each decoded frame says which source frame it is, whatever its
// reported time.
const (
	counterBits    = 8
	counterW       = 128 // 16 px a bar
	counterH       = 64
	counterFrames  = 100 // 4 s at 25 fps
	counterGOP     = 25
	counterRate    = 25
	counterBarSpan = counterW / counterBits
)

// counterClip encodes the counter clip with enc into dir/name.
func counterClip(t *testing.T, dir, name string, enc ...string) string {
	t.Helper()
	return counterClipOf(t, dir, name, counterSpec{rate: counterRate, frames: counterFrames}, enc...)
}

// counterSpec shapes a counter clip: its frame rate and length, and
// filters applied after the counter is drawn (setpts for variable rates).
type counterSpec struct {
	rate, frames int
	vf           string
}

// counterClipOf encodes a counter clip as spec says with enc into dir/name.
func counterClipOf(t *testing.T, dir, name string, spec counterSpec, enc ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	lum := fmt.Sprintf("255*mod(floor(N/pow(2\\,floor(X/%d)))\\,2)", counterBarSpan)
	vf := "format=yuv420p,geq=lum='" + lum + "':cb=128:cr=128"
	if spec.vf != "" {
		vf += "," + spec.vf
	}
	args := []string{
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=black:s=%dx%d:r=%d", counterW, counterH, spec.rate),
		"-vf", vf, "-frames:v", fmt.Sprint(spec.frames), "-pix_fmt", "yuv420p",
	}
	ffmpeg(t, append(append(args, enc...), out)...)
	return out
}

// counterEncoders are the codecs uploads come in, as the counter tests
// encode them: 25 frames a keyframe; H.264 and HEVC with B-frames (3, a
// fixed pattern, pyramid as by default), so that some frames are not
// references.
var counterEncoders = []struct {
	name, file string
	enc        []string
}{
	{"h264", "h264.mp4", []string{"-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
		"-x264-params", "keyint=25:min-keyint=25:scenecut=0:bframes=3:b-adapt=0"}},
	{"vp8", "vp8.webm", []string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-g", "25"}},
	{"vp9", "vp9.webm", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-g", "25"}},
	{"hevc", "hevc.mp4", []string{"-c:v", "libx265", "-preset", "ultrafast", "-crf", "18",
		"-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=3:b-adapt=0"}},
}

// readCounter returns the source frame number an rgb24 counter frame
// shows, or -1 when a bar is neither clearly black nor clearly white.
func readCounter(frame []byte) int {
	n := 0
	for i := range counterBits {
		sum, px := 0, 0
		cx := i*counterBarSpan + counterBarSpan/2
		for y := counterH/2 - 4; y < counterH/2+4; y++ {
			for x := cx - 3; x < cx+3; x++ {
				sum += int(frame[(y*counterW+x)*3+1]) // green: luma's main part
				px++
			}
		}
		switch mean := sum / px; {
		case mean > 170:
			n |= 1 << i
		case mean >= 85:
			return -1
		}
	}
	return n
}

// counterRead is one decoded frame: its reported time and the source frame
// its pixels are.
type counterRead struct {
	t float64
	n int
}

func readCounterFrames(t *testing.T, input string, o Options) ([]counterRead, error) {
	t.Helper()
	r, err := Open(context.Background(), input, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []counterRead
	buf := make([]byte, r.FrameSize())
	for {
		ts, err := r.ReadFrame(buf)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, counterRead{ts, readCounter(buf)})
	}
}

// TestReadFrameTimesTruth checks, against the clip's own frame counter,
// that each frame read is the source frame on screen at its reported
// time t, for the codecs uploads come in, sampled at 5 fps on the k/fps
// grid (no SourceFPS: the fps filter) and every frame. With the decoder's
// skip_frame modes every decoded frame must still carry its own time, but
// a grid sample whose frame was skipped repeats the last decoded one: the
// log says how often and how far its pixels lag behind its time (run with
// -v). That is why the engine skips frames only when it picks decoded
// frames at their own times (TestReadFramePicks).
func TestReadFrameTimesTruth(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	for _, c := range counterEncoders {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			input := counterClip(t, dir, c.file, c.enc...)
			for _, mode := range []string{"", "noref", "nokey"} {
				for _, fps := range []float64{5, 0} {
					got, err := readCounterFrames(t, input, Options{SampleFPS: fps, Width: counterW, Height: counterH, SkipFrame: mode})
					if err != nil {
						t.Errorf("skip_frame %q, fps %g: %v", mode, fps, err)
						continue
					}
					wrong, unreadable, maxLag, future := 0, 0, 0, 0
					var lags []string
					for _, f := range got {
						// The grid is the source's: t*25 is a whole frame.
						want := int(math.Round(f.t * counterRate))
						switch {
						case f.n < 0:
							unreadable++
						case f.n != want:
							wrong++
							maxLag = max(maxLag, want-f.n)
							if f.n > want {
								future++
							}
							if len(lags) < 6 {
								lags = append(lags, fmt.Sprintf("t=%.2f shows %d not %d", f.t, f.n, want))
							}
						}
					}
					wantFrames := counterFrames
					if fps > 0 {
						wantFrames = counterFrames * int(fps) / counterRate
					}
					label := fmt.Sprintf("skip_frame=%s fps=%g", orDefault(mode), fps)
					t.Logf("%s %s: %d frames, %d at their time, %d wrong (largest lag %d source frames), %d unreadable; %s",
						c.name, label, len(got), len(got)-wrong-unreadable, wrong, maxLag, unreadable, strings.Join(lags, ", "))
					if unreadable > 0 || future > 0 {
						t.Errorf("%s: %d frames unreadable, %d from after their time", label, unreadable, future)
					}
					switch {
					case mode == "" && (wrong > 0 || len(got) != wantFrames):
						t.Errorf("%s: %d frames, %d not the frame on screen at their time; want %d, all right", label, len(got), wrong, wantFrames)
					case fps == 0 && wrong > 0:
						// Every decoded frame carries its own time from
						// showinfo, skipped frames or not.
						t.Errorf("%s: %d frames not the source frame at their reported time", label, wrong)
					}
				}
			}
		})
	}
}

func orDefault(mode string) string {
	if mode == "" {
		return "off"
	}
	return mode
}

// pickCase is a counter clip for TestReadFramePicks and the time at which
// its source frame n is presented, the truth the reader is held to.
type pickCase struct {
	name, file string
	spec       counterSpec
	enc        []string
	at         func(n int) float64
	skips      bool // -skip_frame noref leaves frames undecoded (B-frames)
}

// pickCases are the codecs at 25 fps, a variable frame rate with a hole
// longer than a sample interval, and a transport stream, whose timestamps
// start at 1.4 s and are read from the start of the video.
func pickCases() []pickCase {
	cfr := func(n int) float64 { return float64(n) / counterRate }
	var cases []pickCase
	for _, c := range counterEncoders {
		skips := c.name == "h264" || c.name == "hevc"
		cases = append(cases, pickCase{c.name, c.file, counterSpec{rate: counterRate, frames: counterFrames}, c.enc, cfr, skips})
	}
	h264 := counterEncoders[0].enc
	cases = append(cases,
		// Steps of 50 and 30 ms, and 730 ms after frame 49: intervals
		// 10 to 12 of 5 fps hold no frame.
		pickCase{"vfr h264", "vfr.mp4", counterSpec{rate: counterRate, frames: counterFrames,
			vf: `settb=1/1000,setpts=N*40+10*mod(N\,2)+700*gte(N\,50)`},
			append([]string{"-vsync", "vfr", "-enc_time_base", "1/1000", "-video_track_timescale", "1000"}, h264...),
			func(n int) float64 { return float64(n*40+10*(n%2)+700*min(n/50, 1)) / 1000 }, true},
		pickCase{"h264 mpegts", "h264.ts", counterSpec{rate: counterRate, frames: counterFrames}, h264, cfr, true},
	)
	return cases
}

// TestReadFramePicks checks sampling that picks decoded frames (a source
// at least twice the sample rate) against the clips' own frame counters:
// every frame returned shows the source frame presented at exactly its
// reported time t, and the frames are, for each 5 fps interval [k/5,
// (k+1)/5) that holds a frame the decoder yields with -skip_frame noref,
// the first such frame: one per interval, none for an empty one. The log
// says how many frames noref decoded and how late after its interval's
// start a sample came (run with -v).
func TestReadFramePicks(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	const fps = 5
	for _, c := range pickCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			input := counterClipOf(t, dir, c.file, c.spec, c.enc...)
			info, err := Probe(context.Background(), "", input)
			if err != nil {
				t.Fatal(err)
			}
			o := Options{SampleFPS: fps, SourceFPS: info.FPS, Width: counterW, Height: counterH}
			if !o.Picks() {
				t.Fatalf("source at %g fps: the reader would not pick frames at %d fps", info.FPS, fps)
			}
			all := readCounterTruth(t, input, c, Options{Width: counterW, Height: counterH})
			if len(all) != c.spec.frames {
				t.Fatalf("the clip decodes to %d frames, want %d", len(all), c.spec.frames)
			}
			decoded := readCounterTruth(t, input, c, Options{Width: counterW, Height: counterH, SkipFrame: "noref"})
			if c.skips && len(decoded) == len(all) {
				t.Fatal("-skip_frame noref decoded every frame: the clip has no non-reference frames to skip")
			}
			var want []int
			last := -1
			for _, f := range decoded {
				if k := int(math.Floor(c.at(f.n)*fps + 1e-9)); k > last {
					want, last = append(want, f.n), k
				}
			}
			got := readCounterTruth(t, input, c, o)
			var gotN []int
			lateMax := 0.0
			for _, f := range got {
				gotN = append(gotN, f.n)
				lateMax = max(lateMax, f.t-math.Floor(f.t*fps+1e-9)/fps)
			}
			t.Logf("%s: noref decodes %d of %d frames; %d samples, at most %.0f ms after their interval's start",
				c.name, len(decoded), len(all), len(got), lateMax*1000)
			if diff := cmp.Diff(want, gotN); diff != "" {
				t.Errorf("source frames sampled (-first decoded in each interval +read):\n%s", diff)
			}
		})
	}
}

// readCounterTruth reads input with o and checks each frame against the
// clip's truth: its pixels are a source frame, presented at its time t.
func readCounterTruth(t *testing.T, input string, c pickCase, o Options) []counterRead {
	t.Helper()
	got, err := readCounterFrames(t, input, o)
	if err != nil {
		t.Fatalf("%+v: %v", o, err)
	}
	for i, f := range got {
		if f.n < 0 || f.n >= c.spec.frames {
			t.Fatalf("%+v: frame %d at t=%g shows no source frame (%d)", o, i, f.t, f.n)
		}
		// showinfo prints times to 6 significant digits.
		if want := c.at(f.n); math.Abs(f.t-want) > 1e-6 {
			t.Errorf("%+v: frame %d shows source frame %d, presented at %g, but is reported at t=%g", o, i, f.n, want, f.t)
		}
	}
	return got
}

// TestReadFramePicksFallback checks the sources that must keep the k/fps
// grid or that hold a single picture: a source under twice the sample
// rate, a one-frame clip and a still image.
func TestReadFramePicksFallback(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	h264 := counterEncoders[0].enc
	t.Run("8 fps source at 5 fps: the grid", func(t *testing.T) {
		t.Parallel()
		input := counterClipOf(t, dir, "slow.mp4", counterSpec{rate: 8, frames: 40}, h264...)
		o := Options{SampleFPS: 5, SourceFPS: 8, Width: counterW, Height: counterH}
		if o.Picks() {
			t.Fatal("an 8 fps source sampled at 5 fps picks frames; want the grid")
		}
		got, err := readCounterFrames(t, input, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 25 {
			t.Errorf("%d frames of a 5 s clip at 5 fps, want 25", len(got))
		}
		for k, f := range got {
			// The grid time k/5, showing the frame on screen then.
			if want := k * 8 / 5; f.t != float64(k)/5 || f.n != want {
				t.Errorf("sample %d: t=%g showing frame %d, want t=%g showing %d", k, f.t, f.n, float64(k)/5, want)
			}
		}
	})
	t.Run("one-frame clip", func(t *testing.T) {
		t.Parallel()
		input := counterClipOf(t, dir, "one.mp4", counterSpec{rate: counterRate, frames: 1}, h264...)
		for _, src := range []float64{0, counterRate} {
			got, err := readCounterFrames(t, input, Options{SampleFPS: 5, SourceFPS: src, Width: counterW, Height: counterH})
			if diff := cmp.Diff([]counterRead{{0, 0}}, got, cmp.AllowUnexported(counterRead{})); diff != "" || err != nil {
				t.Errorf("SourceFPS %g: frames (-want +got):\n%s\nerror %v", src, diff, err)
			}
		}
	})
	t.Run("still image", func(t *testing.T) {
		t.Parallel()
		for _, src := range []float64{0, 25} {
			res := readAll(t, context.Background(), media(t, "astronaut.png"), Options{SampleFPS: 5, SourceFPS: src, Width: 256, Height: 256})
			if diff := cmp.Diff([]float64{0}, res.times); diff != "" || res.err != io.EOF {
				t.Errorf("SourceFPS %g: times (-want +got):\n%s\nlast error %v", src, diff, res.err)
			}
		}
	})
}
