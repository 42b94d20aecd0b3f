package ffmpeg

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/testenv"
)

func TestProbeArgs(t *testing.T) {
	got := ProbeArgs("-odd name.mp4")
	want := []string{
		"-hide_banner", "-loglevel", "level+error",
		"-print_format", "json", "-show_format", "-show_streams",
		"-i", "-odd name.mp4",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ProbeArgs (-want +got):\n%s", diff)
	}
}

func TestDecodeArgs(t *testing.T) {
	head := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info"}
	tail := []string{"-vsync", "passthrough", "-f", "rawvideo", "-flush_packets", "1", "pipe:1"}
	join := func(parts ...[]string) []string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{
			name: "sample 5 fps",
			o:    Options{SampleFPS: 5, Width: 640, Height: 480},
			want: join(head, []string{"-i", "in.mp4", "-map", "0:V:0", "-vf",
				"fps=fps=5:start_time=0:round=up,scale=640:480:flags=bilinear,format=rgb24"}, tail),
		},
		{
			name: "every frame",
			o:    Options{Width: 640, Height: 360},
			want: join(head, []string{"-i", "in.mp4", "-map", "0:V:0", "-vf",
				"scale=640:360:flags=bilinear,format=rgb24,showinfo=checksum=0"}, tail),
		},
		{
			name: "fractional rate and threads",
			o:    Options{SampleFPS: 2.5, Width: 360, Height: 640, Threads: 2, Bin: "/opt/ffmpeg"},
			want: join(head, []string{"-threads", "2", "-i", "in.mp4", "-map", "0:V:0", "-vf",
				"fps=fps=2.5:start_time=0:round=up,scale=360:640:flags=bilinear,format=rgb24"}, tail),
		},
		{
			name: "skip non-reference frames, an input option",
			o:    Options{SampleFPS: 5, Width: 640, Height: 480, Threads: 1, SkipFrame: "noref"},
			want: join(head, []string{"-threads", "1", "-skip_frame", "noref", "-i", "in.mp4", "-map", "0:V:0", "-vf",
				"fps=fps=5:start_time=0:round=up,scale=640:480:flags=bilinear,format=rgb24"}, tail),
		},
		{
			name: "source 2 x the sample rate: pick decoded frames, skip non-reference ones",
			o:    Options{SampleFPS: 5, SourceFPS: 10, Width: 640, Height: 480, Threads: 1},
			want: join(head, []string{"-threads", "1", "-skip_frame", "noref", "-i", "in.mp4", "-map", "0:V:0", "-vf",
				"select='isnan(prev_selected_t)+gt(floor(t*5+1e-6),floor(prev_selected_t*5+1e-6))'," +
					"scale=640:480:flags=bilinear,format=rgb24,showinfo=checksum=0"}, tail),
		},
		{
			name: "picking, told to decode all",
			o:    Options{SampleFPS: 2.5, SourceFPS: 30, Width: 640, Height: 480, SkipFrame: "none"},
			want: join(head, []string{"-skip_frame", "none", "-i", "in.mp4", "-map", "0:V:0", "-vf",
				"select='isnan(prev_selected_t)+gt(floor(t*2.5+1e-6),floor(prev_selected_t*2.5+1e-6))'," +
					"scale=640:480:flags=bilinear,format=rgb24,showinfo=checksum=0"}, tail),
		},
		{
			name: "source under 2 x the sample rate: the grid",
			o:    Options{SampleFPS: 5, SourceFPS: 9.99, Width: 640, Height: 480},
			want: join(head, []string{"-i", "in.mp4", "-map", "0:V:0", "-vf",
				"fps=fps=5:start_time=0:round=up,scale=640:480:flags=bilinear,format=rgb24"}, tail),
		},
		{
			name: "keyframes only, every decoded frame",
			o:    Options{Width: 640, Height: 480, SkipFrame: "nokey"},
			want: join(head, []string{"-skip_frame", "nokey", "-i", "in.mp4", "-map", "0:V:0", "-vf",
				"scale=640:480:flags=bilinear,format=rgb24,showinfo=checksum=0"}, tail),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, DecodeArgs("in.mp4", tt.o)); diff != "" {
				t.Errorf("DecodeArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFitSize(t *testing.T) {
	tests := []struct {
		w, h, max    int
		wantW, wantH int
	}{
		{640, 480, 640, 640, 480},
		{1920, 1080, 640, 640, 360},
		{1080, 1920, 640, 360, 640},
		{320, 240, 640, 320, 240},   // smaller stays
		{641, 481, 640, 640, 480},   // odd, scaled
		{639, 479, 640, 638, 478},   // odd, not scaled: down to even, never up
		{1280, 720, 641, 640, 360},  // odd limit
		{960, 540, 0, 960, 540},     // no limit
		{4000, 3, 640, 640, 2},      // a sliver keeps 2 pixels
		{0, 480, 640, 0, 0},         // nothing to fit
		{1440, 1080, 640, 640, 480}, // 4:3
	}
	for _, tt := range tests {
		w, h := FitSize(tt.w, tt.h, tt.max)
		if diff := cmp.Diff([2]int{tt.wantW, tt.wantH}, [2]int{w, h}); diff != "" {
			t.Errorf("FitSize(%d, %d, %d) (-want +got):\n%s", tt.w, tt.h, tt.max, diff)
		}
	}
}

// TestParseProbe pins the interpretation of ffprobe's JSON, including what
// ffprobe 4.1 (production) prints and Debian's 5.1 does not.
func TestParseProbe(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		want     Info
		wantCode string
	}{
		{
			name: "h264",
			json: `{"streams":[{"codec_name":"h264","codec_type":"video","width":640,"height":480,
				"r_frame_rate":"25/1","avg_frame_rate":"25/1","duration":"6.000000","disposition":{"attached_pic":0}}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"6.000000"}}`,
			want: Info{DurationS: 6, VideoDurationS: 6, Width: 640, Height: 480, FPS: 25, Codec: "h264", Format: "mov,mp4,m4a,3gp,3g2,mj2"},
		},
		{
			name: "display matrix, counterclockwise -90 is clockwise 90",
			json: `{"streams":[{"codec_name":"h264","codec_type":"video","width":1920,"height":1080,
				"avg_frame_rate":"30000/1001","side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"1.5"}}`,
			want: Info{DurationS: 1.5, Width: 1080, Height: 1920, FPS: 30000.0 / 1001, Codec: "h264", Rotation: 90, Format: "mov,mp4,m4a,3gp,3g2,mj2"},
		},
		{
			name: "ffprobe 4.1: tag and matrix agree, the matrix wins",
			json: `{"streams":[{"codec_name":"h264","codec_type":"video","width":640,"height":480,"avg_frame_rate":"25/1",
				"tags":{"rotate":"270"},"side_data_list":[{"side_data_type":"Display Matrix","displaymatrix":"...","rotation":90}]}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"6.000000"}}`,
			want: Info{DurationS: 6, Width: 480, Height: 640, FPS: 25, Codec: "h264", Rotation: 270, Format: "mov,mp4,m4a,3gp,3g2,mj2"},
		},
		{
			name: "rotate tag only",
			json: `{"streams":[{"codec_name":"h264","codec_type":"video","width":640,"height":480,"avg_frame_rate":"25/1",
				"tags":{"rotate":"180"}}],"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2"}}`,
			want: Info{DurationS: 2, Width: 640, Height: 480, FPS: 25, Codec: "h264", Rotation: 180, Format: "mov,mp4,m4a,3gp,3g2,mj2"},
		},
		{
			name: "webm without a container duration, no average rate",
			json: `{"streams":[{"codec_name":"vp8","codec_type":"video","width":640,"height":480,
				"r_frame_rate":"1000/1","avg_frame_rate":"0/0","duration":"4.2"}],"format":{"format_name":"matroska,webm"}}`,
			want: Info{DurationS: 4.2, VideoDurationS: 4.2, Width: 640, Height: 480, FPS: 1000, Codec: "vp8", Format: "matroska,webm"},
		},
		{
			name: "cover art before the video is skipped",
			json: `{"streams":[{"codec_name":"mjpeg","codec_type":"video","width":64,"height":64,"disposition":{"attached_pic":1}},
				{"codec_name":"aac","codec_type":"audio"},
				{"codec_name":"h264","codec_type":"video","width":320,"height":240,"avg_frame_rate":"25/1","disposition":{"attached_pic":0}}],
				"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"3"}}`,
			want: Info{DurationS: 3, Width: 320, Height: 240, FPS: 25, Codec: "h264", Format: "mov,mp4,m4a,3gp,3g2,mj2"},
		},
		{
			name: "png",
			json: `{"streams":[{"codec_name":"png","codec_type":"video","width":512,"height":512,
				"r_frame_rate":"25/1","avg_frame_rate":"25/1"}],"format":{"format_name":"png_pipe"}}`,
			want: Info{Width: 512, Height: 512, Codec: "png", Format: "png_pipe", Still: true},
		},
		{
			name: "jpeg named as a file",
			json: `{"streams":[{"codec_name":"mjpeg","codec_type":"video","width":300,"height":200,"duration":"0.04"}],
				"format":{"format_name":"image2","duration":"0.04"}}`,
			want: Info{Width: 300, Height: 200, Codec: "mjpeg", Format: "image2", Still: true},
		},
		{
			name:     "audio with cover art",
			json:     `{"streams":[{"codec_name":"mp3","codec_type":"audio"},{"codec_name":"mjpeg","codec_type":"video","width":64,"height":64,"disposition":{"attached_pic":1}}],"format":{"format_name":"mp3"}}`,
			wantCode: facet.ENoVideoStream,
		},
		{
			name:     "audio only",
			json:     `{"streams":[{"codec_name":"aac","codec_type":"audio"}],"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2"}}`,
			wantCode: facet.ENoVideoStream,
		},
		{
			// What ffprobe 4.1 says of a .txt file.
			name:     "text as tty art",
			json:     `{"streams":[{"codec_name":"ansi","codec_type":"video","width":640,"height":400,"avg_frame_rate":"25/1"}],"format":{"format_name":"tty","duration":"0.000000"}}`,
			wantCode: facet.ENotVideo,
		},
		{
			name:     "no streams",
			json:     `{"streams":[],"format":{"format_name":"mpegts"}}`,
			wantCode: facet.ENotVideo,
		},
		{
			name:     "no size",
			json:     `{"streams":[{"codec_name":"none","codec_type":"video"}],"format":{"format_name":"avi"}}`,
			wantCode: facet.ENotVideo,
		},
		{
			name:     "not JSON",
			json:     `{"streams":`,
			wantCode: facet.EInternal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProbe([]byte(tt.json))
			if code := facet.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("parseProbe error %v (code %q), want code %q", err, code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("parseProbe (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	synthetic := media(t, "synthetic_faces_640x480.mp4")

	empty := write(t, dir, "empty.mp4", nil)
	text := write(t, dir, "x.mp4", []byte("this is not a video\n"))
	audio := filepath.Join(dir, "a.m4a")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=d=1", audio)
	cover := filepath.Join(dir, "cover.mp3")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=d=1", "-i", media(t, "astronaut.png"), "-map", "0", "-map", "1",
		"-c:v", "mjpeg", "-s", "64x64", "-disposition:v:0", "attached_pic", cover)
	truncated := truncate(t, synthetic, filepath.Join(dir, "truncated.mp4"), 0.3)
	moovLast := clip(t, dir, "moov_last.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	truncatedMoovLast := truncate(t, moovLast, filepath.Join(dir, "truncated_moov_last.mp4"), 0.5)

	tests := []struct {
		name     string
		input    string
		want     Info
		wantCode string
	}{
		{
			name:  "synthetic",
			input: synthetic,
			want:  Info{DurationS: 6, VideoDurationS: 6, Width: 640, Height: 480, FPS: 25, Codec: "h264", Format: "mov,mp4,m4a,3gp,3g2,mj2"},
		},
		{
			name:  "hevc mov with audio first",
			input: media(t, "pyfeat_face_noface.mov"),
			want:  Info{DurationS: 6.402018, VideoDurationS: 6.402018, Width: 960, Height: 540, FPS: 519168.0 / 19667, Codec: "hevc", Format: "mov,mp4,m4a,3gp,3g2,mj2"},
		},
		{
			name:  "png",
			input: media(t, "astronaut.png"),
			want:  Info{Width: 512, Height: 512, Codec: "png", Format: "png_pipe", Still: true},
		},
		{name: "empty", input: empty, wantCode: facet.EEmptyFile},
		{name: "text named mp4", input: text, wantCode: facet.ENotVideo},
		{name: "audio only", input: audio, wantCode: facet.ENoVideoStream},
		{name: "audio with cover art", input: cover, wantCode: facet.ENoVideoStream},
		{name: "index at the end, cut off", input: truncatedMoovLast, wantCode: facet.ENotVideo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Probe(context.Background(), "", tt.input)
			if code := facet.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("Probe error %v (code %q), want code %q", err, code, tt.wantCode)
			}
			if err != nil && strings.Contains(err.Error(), dir) {
				t.Errorf("error message %q shows the file's path", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
				t.Errorf("Probe (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("truncated with index first", func(t *testing.T) {
		// The index (moov, at the front: +faststart) survives, so ffprobe,
		// which reads no frames, may well see nothing wrong; ReadFrame finds
		// the damage. Either way no panic and no other kind of error.
		info, err := Probe(context.Background(), "", truncated)
		var fe *facet.Error
		switch {
		case err == nil:
			if info.Width != 640 || info.Height != 480 {
				t.Errorf("Probe = %+v, want 640x480", info)
			}
		case !errors.As(err, &fe) || (fe.Code != facet.ENotVideo && fe.Code != facet.EUnreadable):
			t.Errorf("Probe error %v, want ENotVideo or EUnreadable", err)
		}
	})
	t.Run("missing file is our fault", func(t *testing.T) {
		_, err := Probe(context.Background(), "", filepath.Join(dir, "missing.mp4"))
		var fe *facet.Error
		if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &fe) {
			t.Errorf("Probe error %v, want a plain not-exist error", err)
		}
	})
	t.Run("missing ffprobe is our fault", func(t *testing.T) {
		_, err := Probe(context.Background(), filepath.Join(dir, "no-ffprobe"), synthetic)
		var fe *facet.Error
		if err == nil || errors.As(err, &fe) {
			t.Errorf("Probe error %v, want a plain error", err)
		}
	})
}

// TestProbeRotated checks that Rotation and the swapped size describe what
// ffmpeg's automatic rotation actually outputs, for phone videos turned
// either way.
func TestProbeRotated(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	synthetic := media(t, "synthetic_faces_640x480.mp4")
	upright := firstFrame(t, synthetic, 640, 480)

	seen := map[int]bool{}
	for _, tag := range []string{"90", "180", "270"} {
		rotated := filepath.Join(dir, "rotated"+tag+".mp4")
		// ffmpeg 4.1 and 5.1 turn the legacy tag into a display matrix
		// of the opposite sense when stream copying (tag 90 reads back
		// as 270), so only the set of angles is certain; ffmpeg 6 and
		// later ignore the tag and have -display_rotation instead.
		ffmpeg(t, "-i", synthetic, "-metadata:s:v:0", "rotate="+tag, "-c", "copy", rotated)
		info, err := Probe(context.Background(), "", rotated)
		if err == nil && info.Rotation == 0 {
			ffmpeg(t, "-display_rotation:v:0", tag, "-i", synthetic, "-c", "copy", rotated)
			info, err = Probe(context.Background(), "", rotated)
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[info.Rotation] = true
		wantW, wantH := 640, 480
		if info.Rotation == 90 || info.Rotation == 270 {
			wantW, wantH = 480, 640
		}
		if info.Width != wantW || info.Height != wantH {
			t.Errorf("tag %s: Rotation %d, size %dx%d, want %dx%d", tag, info.Rotation, info.Width, info.Height, wantW, wantH)
			continue
		}

		got := firstFrame(t, rotated, info.Width, info.Height)
		right := meanAbsDiff(rotateCW(upright, 640, 480, info.Rotation), got)
		wrong := meanAbsDiff(rotateCW(upright, 640, 480, info.Rotation+180), got)
		t.Logf("tag %s: Rotation %d, mean difference %.2f, %.2f the other way round", tag, info.Rotation, right, wrong)
		if right > 3 || right > wrong/4 {
			t.Errorf("tag %s: the decoded frame is not the original turned %d° clockwise (mean difference %.2f, %.2f the other way)", tag, info.Rotation, right, wrong)
		}
	}
	if diff := cmp.Diff(map[int]bool{90: true, 180: true, 270: true}, seen); diff != "" {
		t.Errorf("rotations (-want +got):\n%s", diff)
	}
}

func TestReadFrame(t *testing.T) {
	t.Parallel()
	needTools(t)
	synthetic := media(t, "synthetic_faces_640x480.mp4")
	tests := []struct {
		name      string
		sampleFPS float64
		want      int
	}{
		{"sample 5 fps", 5, 30},
		{"every frame", 0, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readAll(t, context.Background(), synthetic, Options{SampleFPS: tt.sampleFPS, Width: 640, Height: 480})
			if res.err != io.EOF {
				t.Fatalf("last ReadFrame error %v, want io.EOF", res.err)
			}
			if len(res.times) != tt.want {
				t.Fatalf("%d frames, want %d", len(res.times), tt.want)
			}
			step := 1.0 / 25
			if tt.sampleFPS > 0 {
				step = 1 / tt.sampleFPS
			}
			for n, got := range res.times {
				if want := float64(n) * step; math.Abs(got-want) > 0.001 {
					t.Fatalf("frame %d at %.4f s, want %.4f", n, got, want)
				}
			}
			if !res.nonZero {
				t.Error("every pixel of every frame is zero")
			}
			checkReaped(t, res)
		})
	}
}

// TestReadFrameFormats decodes the containers and codecs that uploads come
// in, made from the shared picture.
func TestReadFrameFormats(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		file string
		enc  []string
	}{
		{"webm vp8", "vp8.webm", []string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"}},
		{"webm vp9", "vp9.webm", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"}},
		{"flv", "clip.flv", []string{"-c:v", "flv1"}},
		{"avi mjpeg", "clip.avi", []string{"-c:v", "mjpeg", "-pix_fmt", "yuvj420p"}},
		{"mp4 index at the end", "moov_last.mp4", []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := clip(t, dir, tt.file, tt.enc...)
			if strings.HasSuffix(tt.file, ".mp4") && !moovAfterMdat(t, input) {
				t.Fatal("the test clip has its index first; it should be last")
			}
			info, err := Probe(context.Background(), "", input)
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != 256 || info.Height != 256 || math.Abs(info.DurationS-2) > 0.1 {
				t.Errorf("Probe = %+v, want 256x256, 2 s", info)
			}
			for _, sample := range []struct {
				fps  float64
				want int
			}{{0, 50}, {5, 10}} {
				res := readAll(t, context.Background(), input, Options{SampleFPS: sample.fps, Width: 128, Height: 128})
				if res.err != io.EOF {
					t.Fatalf("SampleFPS %g: last ReadFrame error %v, want io.EOF", sample.fps, res.err)
				}
				if len(res.times) != sample.want {
					t.Errorf("SampleFPS %g: %d frames, want %d (times %v)", sample.fps, len(res.times), sample.want, res.times)
				}
				if !res.nonZero {
					t.Errorf("SampleFPS %g: every pixel is zero", sample.fps)
				}
			}
		})
	}

	t.Run("hevc mov", func(t *testing.T) {
		res := readAll(t, context.Background(), media(t, "pyfeat_face_noface.mov"), Options{SampleFPS: 5, Width: 320, Height: 180})
		if res.err != io.EOF || len(res.times) != 32 {
			t.Errorf("%d frames ending with %v, want 32 (6.4 s at 5 fps) and io.EOF", len(res.times), res.err)
		}
	})
	t.Run("still image", func(t *testing.T) {
		for _, fps := range []float64{0, 5} {
			res := readAll(t, context.Background(), media(t, "astronaut.png"), Options{SampleFPS: fps, Width: 256, Height: 256})
			if diff := cmp.Diff([]float64{0}, res.times); diff != "" || res.err != io.EOF {
				t.Errorf("SampleFPS %g: times (-want +got):\n%s\nlast error %v", fps, diff, res.err)
			}
		}
	})
}

// TestReadFrameVFR checks that frames of a variable frame rate webm, as a
// browser records, carry their own times rather than n/fps.
func TestReadFrameVFR(t *testing.T) {
	t.Parallel()
	needTools(t)
	input := filepath.Join(t.TempDir(), "vfr.webm")
	// Steps of 12 to 68 ms, in a 1 ms time base end to end.
	ffmpeg(t, "-loop", "1", "-i", media(t, "astronaut.png"),
		"-vf", `scale=256:256,settb=1/1000,setpts=(N*40+7*mod(N*N\,5))/1000/TB`,
		"-frames:v", "50", "-vsync", "vfr", "-enc_time_base", "1/1000",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", input)
	want := sourceTimes(t, input)
	if len(want) != 50 {
		t.Fatalf("the test clip has %d frames, want 50", len(want))
	}

	res := readAll(t, context.Background(), input, Options{Width: 128, Height: 128})
	if res.err != io.EOF {
		t.Fatalf("last ReadFrame error %v, want io.EOF", res.err)
	}
	if diff := cmp.Diff(want, res.times, cmpopts.EquateApprox(0, 0.001)); diff != "" {
		t.Errorf("frame times (-source +read):\n%s", diff)
	}
	steps := map[int]bool{}
	for i := 1; i < len(res.times); i++ {
		step := res.times[i] - res.times[i-1]
		if step <= 0 {
			t.Fatalf("frame %d at %.3f s is not after frame %d at %.3f s", i, res.times[i], i-1, res.times[i-1])
		}
		steps[int(math.Round(step*1000))] = true
	}
	if len(steps) < 3 {
		t.Errorf("only %d distinct steps between frames: the clip is not variable-rate", len(steps))
	}
}

// TestReadFrameCorrupt feeds damaged files: reading must end, with io.EOF
// or EUnreadable, and leave no process.
func TestReadFrameCorrupt(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	synthetic := media(t, "synthetic_faces_640x480.mp4")
	data, err := os.ReadFile(synthetic)
	if err != nil {
		t.Fatal(err)
	}
	scrambled := bytes.Clone(data)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(data) * 4 / 10; i < len(data)*6/10; i++ {
		scrambled[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name  string
		input string
	}{
		{"truncated", truncate(t, synthetic, filepath.Join(dir, "truncated.mp4"), 0.3)},
		{"middle overwritten", write(t, dir, "scrambled.mp4", scrambled)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res := readAll(t, ctx, tt.input, Options{SampleFPS: 5, Width: 320, Height: 240})
			if ctx.Err() != nil {
				t.Fatal("reading hung until the test's deadline")
			}
			var fe *facet.Error
			if res.err != io.EOF && (!errors.As(res.err, &fe) || fe.Code != facet.EUnreadable) {
				t.Errorf("last ReadFrame error %v, want io.EOF or EUnreadable", res.err)
			}
			t.Logf("%d frames, then %v", len(res.times), res.err)
			checkReaped(t, res)
		})
	}
}

func TestOpenNotVideo(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	input := write(t, dir, "x.mp4", []byte("this is not a video\n"))
	res := readAll(t, context.Background(), input, Options{Width: 64, Height: 64})
	var fe *facet.Error
	if !errors.As(res.err, &fe) || fe.Code != facet.EUnreadable {
		t.Fatalf("ReadFrame error %v, want EUnreadable", res.err)
	}
	if !strings.Contains(fe.Message, "Invalid data found") || strings.Contains(fe.Message, dir) {
		t.Errorf("message %q: want ffmpeg's reason, without the path", fe.Message)
	}
	if len(res.times) != 0 {
		t.Errorf("%d frames from a text file", len(res.times))
	}
	checkReaped(t, res)

	_, err := Open(context.Background(), input, Options{Bin: filepath.Join(dir, "no-ffmpeg"), Width: 64, Height: 64})
	if err == nil || errors.As(err, &fe) {
		t.Errorf("Open with a missing ffmpeg: error %v, want a plain error", err)
	}
}

func TestReadFrameCancel(t *testing.T) {
	t.Parallel()
	needTools(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := Open(ctx, media(t, "synthetic_faces_640x480.mp4"), Options{Width: 640, Height: 480})
	if err != nil {
		t.Fatal(err)
	}
	pid := r.cmd.Process.Pid
	buf := make([]byte, r.FrameSize())
	for range 2 {
		if _, err := r.ReadFrame(buf); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	start := time.Now()
	var readErr error
	for readErr == nil { // a frame already in the pipe may still come
		_, readErr = r.ReadFrame(buf)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("ReadFrame took %v to notice the cancellation", elapsed)
	}
	if !errors.Is(readErr, context.Canceled) {
		t.Errorf("ReadFrame error %v, want context.Canceled", readErr)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ffmpeg (pid %d) after Close: kill(0) = %v, want ESRCH", pid, err)
	}
}

func TestCloseEarly(t *testing.T) {
	t.Parallel()
	needTools(t)
	r, err := Open(context.Background(), media(t, "synthetic_faces_640x480.mp4"), Options{Width: 640, Height: 480})
	if err != nil {
		t.Fatal(err)
	}
	pid := r.cmd.Process.Pid
	if r.MaxRSSKB() != 0 {
		t.Errorf("MaxRSSKB before Close = %d, want 0", r.MaxRSSKB())
	}
	if _, err := r.ReadFrame(make([]byte, 10)); err == nil {
		t.Error("ReadFrame into a short buffer succeeded")
	}
	buf := make([]byte, r.FrameSize())
	if _, err := r.ReadFrame(buf); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if _, err := r.ReadFrame(buf); err == nil || err == io.EOF {
		t.Errorf("ReadFrame after Close: %v, want an error", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ffmpeg (pid %d) after Close: kill(0) = %v, want ESRCH", pid, err)
	}
	if r.MaxRSSKB() <= 0 {
		t.Errorf("MaxRSSKB after Close = %d, want > 0", r.MaxRSSKB())
	}
}

func TestShowinfoTime(t *testing.T) {
	tests := []struct {
		line             string
		want             float64
		isShowinfo, isOK bool
	}{
		{"[Parsed_showinfo_3 @ 0x55d643acb640] [info] n:   1 pts:      1 pts_time:0.2     pos:    26516 fmt:rgb24", 0.2, true, true},
		{"[Parsed_showinfo_2 @ 0xae7c300] [info] n:  12 pts:  12345 pts_time:12.345 pos: -1 fmt:rgb24", 12.345, true, true},
		{"[Parsed_showinfo_2 @ 0xae7c300] [info] n:   0 pts:NOPTS pts_time:NOPTS pos: -1", 0, true, false},
		{"[Parsed_showinfo_3 @ 0x55d643acb640] [info] config in time_base: 1/5, frame_rate: 5/1", 0, true, false},
		{"[h264 @ 0x55d643ac3040] [error] Invalid NAL unit size (1704 > 1010).", 0, false, false},
	}
	for _, tt := range tests {
		got, isShowinfo, ok := showinfoTime([]byte(tt.line))
		if diff := cmp.Diff([]any{tt.want, tt.isShowinfo, tt.isOK}, []any{got, isShowinfo, ok}); diff != "" {
			t.Errorf("showinfoTime(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestLogTail(t *testing.T) {
	tests := []struct {
		name  string
		input string
		lines []string
		want  string
	}{
		{
			name:  "errors win over warnings and info; the path goes",
			input: "/tmp/up/abc.mp4",
			lines: []string{
				"[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '/tmp/up/abc.mp4':",
				"[warning] -vsync is deprecated. Use -fps_mode",
				"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55a7a1e4c9c0] [warning] Packet corrupt (stream = 0, dts = 9728).",
				"[NULL @ 0x55a7a1e4df00] [error] Invalid NAL unit size (1704 > 1010).",
				"[h264 @ 0x55a7a1e6dc40] [error] Error splitting the input into NAL units.",
				"[error] /tmp/up/abc.mp4: Invalid data found when processing input",
				"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55a7a1e4c9c0] [error] stream 0, offset 0x8f5d: partial file",
				"[error] /tmp/up/abc.mp4: Invalid data found when processing input",
				"[info] frame=    4 fps=0.0 q=-0.0 Lsize=    3600kB time=00:00:00.80",
			},
			want: "h264: Error splitting the input into NAL units.; mov,mp4,m4a,3gp,3g2,mj2: stream 0, offset 0x8f5d: partial file; input: Invalid data found when processing input",
		},
		{
			name:  "warnings when there is no error",
			lines: []string{"[info] Stream mapping:", "[swscaler @ 0x1] [warning] deprecated pixel format used, make sure you did set range correctly", "[avi @ 0x2] [warning] odd index"},
			want:  "avi: odd index",
		},
		{
			name:  "untagged text counts",
			lines: []string{"Killed"},
			want:  "Killed",
		},
		{
			name: "nothing worth saying",
			lines: []string{
				"[info] Stream mapping:",
			},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail := logTail{input: tt.input}
			for _, l := range tt.lines {
				tail.add([]byte(l))
			}
			if diff := cmp.Diff(tt.want, tail.message()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("bounded", func(t *testing.T) {
		var tail logTail
		long := "[error] " + strings.Repeat("x", 10000)
		for i := range 10000 {
			tail.add([]byte("[error] packet " + strconv.Itoa(i) + " broken"))
		}
		tail.add([]byte(long))
		for _, e := range tail.ring {
			if len(e.text) > maxLineBytes {
				t.Fatalf("kept a line of %d bytes", len(e.text))
			}
		}
		if got := tail.message(); !strings.HasPrefix(got, "packet 9998 broken; packet 9999 broken; xxx") {
			t.Errorf("message %.60q..., want the last lines", got)
		}
	})
}

func TestForEachLine(t *testing.T) {
	in := "one\r\n" + strings.Repeat("y", 10000) + "\ntwo\n\nthree"
	var got []string
	forEachLine(strings.NewReader(in), func(line []byte) { got = append(got, string(line)) })
	want := []string{"one", strings.Repeat("y", 4096), "two", "three"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func BenchmarkDecode(b *testing.B) {
	needTools(b)
	input := media(b, "synthetic_faces_640x480.mp4")
	frames := 0
	b.ResetTimer()
	for b.Loop() {
		r, err := Open(context.Background(), input, Options{SampleFPS: 5, Width: 640, Height: 480})
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, r.FrameSize())
		for {
			_, err := r.ReadFrame(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			frames++
		}
		r.Close()
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}

// readResult is what readAll saw.
type readResult struct {
	times   []float64
	nonZero bool  // some frame had a pixel that is not 0
	err     error // what the last ReadFrame returned
	pid     int
	rss     int64
}

// readAll reads input to the end and closes the reader.
func readAll(t *testing.T, ctx context.Context, input string, o Options) readResult {
	t.Helper()
	r, err := Open(ctx, input, o)
	if err != nil {
		t.Fatal(err)
	}
	res := readResult{pid: r.cmd.Process.Pid}
	buf := make([]byte, r.FrameSize())
	for {
		ts, err := r.ReadFrame(buf)
		if err != nil {
			res.err = err
			break
		}
		res.times = append(res.times, ts)
		if !res.nonZero && bytes.Count(buf, []byte{0}) != len(buf) {
			res.nonZero = true
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	res.rss = r.MaxRSSKB()
	return res
}

// checkReaped fails t if ffmpeg is still around after Close or its peak
// memory is unknown.
func checkReaped(t *testing.T, res readResult) {
	t.Helper()
	if err := syscall.Kill(res.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ffmpeg (pid %d) after Close: kill(0) = %v, want ESRCH", res.pid, err)
	}
	if res.rss <= 0 {
		t.Errorf("MaxRSSKB = %d, want > 0", res.rss)
	}
}

// firstFrame returns the first rgb24 frame of input at w x h.
func firstFrame(t *testing.T, input string, w, h int) []byte {
	t.Helper()
	r, err := Open(context.Background(), input, Options{Width: w, Height: h})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, r.FrameSize())
	if _, err := r.ReadFrame(buf); err != nil {
		t.Fatal(err)
	}
	return buf
}

// rotateCW returns the w x h rgb24 image src turned deg (a multiple of 90)
// clockwise.
func rotateCW(src []byte, w, h, deg int) []byte {
	for ; deg%360 != 0; deg -= 90 {
		dst := make([]byte, len(src))
		for y := range h {
			for x := range w {
				// (x, y) goes to column h-1-y of row x in the h-wide result.
				copy(dst[(x*h+h-1-y)*3:][:3], src[(y*w+x)*3:][:3])
			}
		}
		src, w, h = dst, h, w
	}
	return src
}

func meanAbsDiff(a, b []byte) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	sum := 0
	for i := range a {
		sum += max(int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return float64(sum) / float64(len(a))
}

// sourceTimes returns the presentation times of input's video frames as
// ffprobe decodes them.
func sourceTimes(t *testing.T, input string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "frame=best_effort_timestamp_time", "-of", "csv=p=0", input).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var times []float64
	for _, f := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.TrimSuffix(f, ","), 64)
		if err != nil {
			t.Fatalf("ffprobe frame time %q: %v", f, err)
		}
		times = append(times, v)
	}
	return times
}

// moovAfterMdat reports whether the mp4 file's index (moov box) follows its
// media data, as in a file written without +faststart.
func moovAfterMdat(t *testing.T, name string) bool {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	mdat := -1
	for off := 0; off+8 <= len(data); {
		size := int(binary.BigEndian.Uint32(data[off:]))
		switch string(data[off+4 : off+8]) {
		case "mdat":
			mdat = off
		case "moov":
			return mdat >= 0
		}
		if size == 1 && off+16 <= len(data) { // 64-bit size
			size = int(binary.BigEndian.Uint64(data[off+8:]))
		}
		if size < 8 {
			break
		}
		off += size
	}
	return false
}

// needTools skips (or fails, see testenv) without ffmpeg and ffprobe.
func needTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, tool+" not installed: "+err.Error())
		}
	}
}

func media(t testing.TB, name string) string {
	t.Helper()
	return testenv.Shared(t, filepath.Join("media", name))
}

// ffmpeg runs the ffmpeg program to make test data.
func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// clip makes a 2 s, 25 fps, 256x256 video of the astronaut in dir with the
// encoder options enc.
func clip(t *testing.T, dir, name string, enc ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args := []string{"-loop", "1", "-framerate", "25", "-i", media(t, "astronaut.png"), "-t", "2", "-vf", "scale=256:256"}
	ffmpeg(t, append(append(args, enc...), out)...)
	return out
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// truncate writes the first fraction of src to dst.
func truncate(t *testing.T, src, dst string, fraction float64) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return write(t, filepath.Dir(dst), filepath.Base(dst), data[:int(float64(len(data))*fraction)])
}
