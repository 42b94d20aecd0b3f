package ffmpeg

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
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
	out := filepath.Join(dir, name)
	lum := fmt.Sprintf("255*mod(floor(N/pow(2\\,floor(X/%d)))\\,2)", counterBarSpan)
	args := []string{
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=black:s=%dx%d:r=%d", counterW, counterH, counterRate),
		"-vf", "format=yuv420p,geq=lum='" + lum + "':cb=128:cr=128",
		"-frames:v", fmt.Sprint(counterFrames), "-pix_fmt", "yuv420p",
	}
	ffmpeg(t, append(append(args, enc...), out)...)
	return out
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
// time t, for the codecs uploads come in, sampled at 5 fps and every
// frame. With the decoder's skip_frame modes (measured for the speed
// work, not used by the engine) every decoded frame must still carry its
// own time, but a 5 fps sample whose frame was skipped repeats the last
// decoded one: the log says how often and how far its pixels lag behind
// its time (run with -v).
func TestReadFrameTimesTruth(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	codecs := []struct {
		name, file string
		enc        []string
	}{
		// B-frames (3, a fixed pattern, pyramid as by default) and a
		// keyframe every second.
		{"h264", "h264.mp4", []string{"-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
			"-x264-params", "keyint=25:min-keyint=25:scenecut=0:bframes=3:b-adapt=0"}},
		{"vp8", "vp8.webm", []string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-g", "25"}},
		{"vp9", "vp9.webm", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-g", "25"}},
		{"hevc", "hevc.mp4", []string{"-c:v", "libx265", "-preset", "ultrafast", "-crf", "18",
			"-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=3:b-adapt=0"}},
	}
	for _, c := range codecs {
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
