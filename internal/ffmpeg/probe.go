// Package ffmpeg runs the ffprobe and ffmpeg programs: Probe says what a
// video is, Open streams its frames as rgb24 with their presentation times.
//
// Production runs a static ffmpeg 4.1 build (2018), so every option used here
// exists there as well as in later versions (no -fps_mode, no showinfo
// checksum option).
package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/humaninsight/facet"
)

// Info is what ffprobe says about the input's first video stream.
type Info struct {
	DurationS float64 // container duration, or the stream's; 0 for a still image or when neither is known
	// VideoDurationS is the video stream's own duration when it states
	// one (0 otherwise): the container's may include a longer audio track.
	VideoDurationS float64
	Width, Height  int     // display size: after rotation (90/270 swap)
	FPS            float64 // avg_frame_rate, falling back to r_frame_rate; 0 if unknown or a still image
	Codec          string  // e.g. "h264", "hevc", "vp9", "png"
	Rotation       int     // degrees clockwise to display it upright: 0, 90, 180 or 270
	Format         string  // format_name
	Still          bool    // a single image rather than a video
}

// ProbeArgs returns ffprobe's argv (without the program name) for input:
// JSON output of format and streams.
func ProbeArgs(input string) []string {
	return []string{
		"-hide_banner",
		// level+ tags each line with its severity, so that the error
		// message is built from errors rather than from whatever came last.
		"-loglevel", "level+error",
		"-print_format", "json",
		"-show_format",
		"-show_streams",
		// -i rather than a bare argument: a file name starting with "-"
		// would otherwise be taken for an option.
		"-i", input,
	}
}

// Probe runs ffprobe (program path bin, "" = "ffprobe") on input, a file path
// or a URL. Unusable input is a *facet.Error: EEmptyFile for a 0-byte file,
// ENotVideo for anything ffprobe cannot open or understand, ENoVideoStream
// for media without pictures (cover art does not count). A missing file or a
// missing ffprobe is a plain error: the fault is ours, not the recording's.
func Probe(ctx context.Context, bin, input string) (Info, error) {
	if bin == "" {
		bin = "ffprobe"
	}
	if !isURL(input) {
		fi, err := os.Stat(input)
		if err != nil {
			return Info{}, fmt.Errorf("ffmpeg: probe: %w", err)
		}
		if fi.IsDir() {
			return Info{}, fmt.Errorf("ffmpeg: probe: %s is a directory", input)
		}
		if fi.Size() == 0 {
			return Info{}, facet.Errorf(facet.EEmptyFile, "ffmpeg: probe: the file is empty")
		}
	}
	var stdout bytes.Buffer
	stderr := &headBuffer{max: 4 << 10}
	cmd := exec.CommandContext(ctx, bin, ProbeArgs(input)...)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return Info{}, fmt.Errorf("ffmpeg: probe: %w", ctx.Err())
	}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return Info{}, fmt.Errorf("ffmpeg: probe: %w", err)
		}
		tail := logTail{input: input}
		forEachLine(bytes.NewReader(stderr.buf), tail.add)
		return Info{}, &facet.Error{
			Code:    facet.ENotVideo,
			Message: withDetail("ffmpeg: probe: not a video ffmpeg can read", tail.message()),
			Err:     fmt.Errorf("%s: %w: %s", bin, err, bytes.TrimSpace(stderr.buf)),
		}
	}
	return parseProbe(stdout.Bytes())
}

// isURL reports whether input names a protocol rather than a local file, so
// that Probe does not stat it.
func isURL(input string) bool {
	return strings.Contains(input, "://")
}

// probeOutput is the part of ffprobe's JSON that Info needs.
type probeOutput struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

type probeStream struct {
	CodecType    string `json:"codec_type"`
	CodecName    string `json:"codec_name"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	AvgFrameRate string `json:"avg_frame_rate"`
	RFrameRate   string `json:"r_frame_rate"`
	Duration     string `json:"duration"`
	Disposition  struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
	Tags         map[string]string `json:"tags"`
	SideDataList []struct {
		SideDataType string   `json:"side_data_type"`
		Rotation     *float64 `json:"rotation"`
	} `json:"side_data_list"`
}

// textFormats are demuxers that turn any text file into a "video" of
// rendered characters; ffprobe 4.1 picks tty for a .txt file.
var textFormats = map[string]bool{"tty": true, "bin": true, "xbin": true, "adf": true, "idf": true}

// parseProbe turns ffprobe's JSON into Info, or classifies the input.
func parseProbe(data []byte) (Info, error) {
	var out probeOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return Info{}, fmt.Errorf("ffmpeg: probe: parse ffprobe output: %w", err)
	}
	format := out.Format.FormatName
	if textFormats[format] {
		return Info{}, facet.Errorf(facet.ENotVideo, "ffmpeg: probe: not a video (a %s file)", format)
	}
	var v *probeStream
	for i := range out.Streams {
		s := &out.Streams[i]
		// Cover art is a video stream of one picture attached to audio:
		// there is nothing to analyse in it.
		if s.CodecType == "video" && s.Disposition.AttachedPic == 0 {
			v = s
			break
		}
	}
	if v == nil {
		if len(out.Streams) == 0 {
			return Info{}, facet.Errorf(facet.ENotVideo, "ffmpeg: probe: not a video (no streams)")
		}
		return Info{}, facet.Errorf(facet.ENoVideoStream, "ffmpeg: probe: no video stream")
	}
	if v.Width <= 0 || v.Height <= 0 {
		return Info{}, facet.Errorf(facet.ENotVideo, "ffmpeg: probe: video stream of unknown size (codec %q)", v.CodecName)
	}

	info := Info{
		Width:    v.Width,
		Height:   v.Height,
		Codec:    v.CodecName,
		Format:   format,
		Rotation: rotation(v),
		Still:    isStill(format),
	}
	if info.Rotation == 90 || info.Rotation == 270 {
		info.Width, info.Height = info.Height, info.Width
	}
	if !info.Still {
		// An image demuxer reports 25 fps and a 1/25 s duration by
		// convention; neither means anything for one picture.
		info.DurationS = parseSeconds(out.Format.Duration)
		info.VideoDurationS = parseSeconds(v.Duration)
		if info.DurationS == 0 {
			info.DurationS = info.VideoDurationS
		}
		info.FPS = parseRate(v.AvgFrameRate)
		if info.FPS == 0 {
			info.FPS = parseRate(v.RFrameRate)
		}
	}
	return info, nil
}

// rotation returns the clockwise rotation that displays v upright. The
// display matrix is authoritative (ffprobe's "rotation" is counterclockwise);
// ffprobe 4.1 also shows the legacy clockwise "rotate" tag, which is used
// only when there is no matrix.
func rotation(v *probeStream) int {
	for _, sd := range v.SideDataList {
		if sd.SideDataType == "Display Matrix" && sd.Rotation != nil {
			return normaliseDegrees(-*sd.Rotation)
		}
	}
	if tag, ok := v.Tags["rotate"]; ok {
		if deg, err := strconv.ParseFloat(tag, 64); err == nil {
			return normaliseDegrees(deg)
		}
	}
	return 0
}

// normaliseDegrees maps any angle to the nearest of 0, 90, 180 and 270.
func normaliseDegrees(deg float64) int {
	if math.IsNaN(deg) || math.IsInf(deg, 0) {
		return 0
	}
	quarter := int(math.Round(deg/90)) % 4
	if quarter < 0 {
		quarter += 4
	}
	return quarter * 90
}

// isStill reports whether format_name is one of ffmpeg's single-image
// demuxers (image2 for a named file, png_pipe, jpeg_pipe... when probed by
// content).
func isStill(format string) bool {
	return format == "image2" || format == "image2pipe" || strings.HasSuffix(format, "_pipe")
}

// parseSeconds parses ffprobe's duration; "N/A" or garbage is 0 (unknown).
func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// parseRate parses a rational such as "30000/1001"; "0/0" is 0 (unknown).
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return parseSeconds(s)
	}
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	if err1 != nil || err2 != nil || d == 0 || n <= 0 {
		return 0
	}
	return n / d
}

// FitSize returns the decode size for a w x h video: the longer side at most
// maxSide (no upscaling; maxSide <= 0 means no limit), both sides even, as
// encoders and scalers prefer, and the aspect ratio kept as closely as even
// sides allow. It returns 0, 0 for a size that is not positive.
func FitSize(w, h, maxSide int) (int, int) {
	if w <= 0 || h <= 0 {
		return 0, 0
	}
	long, short := w, h
	if h > w {
		long, short = h, w
	}
	if maxSide > 0 && long > maxSide {
		scaled := maxSide &^ 1
		exact := float64(short) * float64(scaled) / float64(long)
		long, short = scaled, 2*int(math.Round(exact/2))
	} else {
		long &^= 1
		short &^= 1
	}
	short = max(min(short, long), 2)
	long = max(long, 2)
	if h > w {
		return short, long
	}
	return long, short
}

// headBuffer is an io.Writer that keeps the first max bytes and drops the
// rest, so that a chatty ffprobe cannot grow memory.
type headBuffer struct {
	buf []byte
	max int
}

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
