package ffmpeg

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"io/fs"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/humaninsight/facet"
)

func TestProbeMediaArgs(t *testing.T) {
	got := ProbeMediaArgs("-odd:name")
	want := []string{
		"-hide_banner", "-loglevel", "level+error",
		"-protocol_whitelist", "file",
		"-format_whitelist", probeFormats,
		"-max_pixels", "67108864",
		"-print_format", "json", "-show_format", "-show_streams",
		"-i", "file:-odd:name",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ProbeMediaArgs (-want +got):\n%s", diff)
	}
	for _, f := range []string{"hls", "concat", "tty", "lavfi"} {
		if strings.Contains(","+probeFormats+",", ","+f+",") {
			t.Errorf("probeFormats allows %s", f)
		}
	}
}

// mp4Format and friends are ffprobe's format objects of each kind of file.
const (
	mp4Format  = `"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2.000000","tags":{"major_brand":"isom"}}`
	movFormat  = `"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2.000000","tags":{"major_brand":"qt  "}}`
	webmFormat = `"format":{"format_name":"matroska,webm","duration":"2.000000"}`
	h264       = `{"codec_name":"h264","codec_type":"video","profile":"High","width":320,"height":240,"pix_fmt":"yuv420p","sample_aspect_ratio":"1:1","duration":"2.000000"}`
	aac        = `{"codec_name":"aac","codec_type":"audio","profile":"LC","duration":"2.000000"}`
	vp9        = `{"codec_name":"vp9","codec_type":"video","profile":"Profile 0","width":320,"height":240,"pix_fmt":"yuv420p"}`
	opus       = `{"codec_name":"opus","codec_type":"audio"}`
)

// probeJSON builds ffprobe's JSON from a format object and streams.
func probeJSON(format string, streams ...string) string {
	return `{"streams":[` + strings.Join(streams, ",") + `],` + format + `}`
}

// TestPlayable pins the rules on ffprobe's JSON, as ffprobe 5.1 prints it
// for files made with ffmpeg (see TestProbeMedia for the real thing).
func TestPlayable(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		over    string // mediaProbe.oversize
		want    Media
		wantMsg string // the refusal's message; "" = accepted
	}{
		{
			name: "h264 and aac in mp4",
			json: probeJSON(mp4Format, h264, aac),
			want: Media{Kind: "video", Container: "mp4", VideoCodec: "h264", AudioCodec: "aac", Width: 320, Height: 240, DurationS: 2, ContentType: "video/mp4"},
		},
		{
			name: "h264 without audio, full range, timecode and subtitles ignored",
			json: probeJSON(`"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"5.5","tags":{"major_brand":"mp42"}}`,
				`{"codec_name":"h264","codec_type":"video","width":1920,"height":1080,"pix_fmt":"yuvj420p"}`,
				`{"codec_type":"data","codec_tag_string":"tmcd"}`,
				`{"codec_name":"mov_text","codec_type":"subtitle"}`),
			want: Media{Kind: "video", Container: "mp4", VideoCodec: "h264", Width: 1920, Height: 1080, DurationS: 5.5, ContentType: "video/mp4"},
		},
		{
			name: "phone video: turned a quarter, cover art first",
			json: probeJSON(mp4Format,
				`{"codec_name":"mjpeg","codec_type":"video","width":64,"height":64,"pix_fmt":"yuvj444p","disposition":{"attached_pic":1}}`,
				`{"codec_name":"h264","codec_type":"video","width":1920,"height":1080,"pix_fmt":"yuv420p",
					"side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}`, aac),
			want: Media{Kind: "video", Container: "mp4", VideoCodec: "h264", AudioCodec: "aac", Width: 1080, Height: 1920, DurationS: 2, ContentType: "video/mp4"},
		},
		{
			name: "anamorphic: the sample aspect ratio widens",
			json: probeJSON(mp4Format, `{"codec_name":"h264","codec_type":"video","width":720,"height":576,"pix_fmt":"yuv420p","sample_aspect_ratio":"64:45"}`),
			want: Media{Kind: "video", Container: "mp4", VideoCodec: "h264", Width: 1024, Height: 576, DurationS: 2, ContentType: "video/mp4"},
		},
		{
			name: "vp9 and opus in webm, duration of the stream only",
			json: probeJSON(`"format":{"format_name":"matroska,webm","duration":"N/A"}`,
				`{"codec_name":"vp9","codec_type":"video","width":640,"height":360,"pix_fmt":"yuv420p10le","duration":"3.5"}`, opus),
			want: Media{Kind: "video", Container: "webm", VideoCodec: "vp9", AudioCodec: "opus", Width: 640, Height: 360, DurationS: 3.5, ContentType: "video/webm"},
		},
		{
			name: "vp8 with alpha and vorbis in webm",
			json: probeJSON(webmFormat, `{"codec_name":"vp8","codec_type":"video","width":320,"height":240,"pix_fmt":"yuva420p"}`, `{"codec_name":"vorbis","codec_type":"audio"}`),
			want: Media{Kind: "video", Container: "webm", VideoCodec: "vp8", AudioCodec: "vorbis", Width: 320, Height: 240, DurationS: 2, ContentType: "video/webm"},
		},
		{
			name: "av1 in webm",
			json: probeJSON(webmFormat, `{"codec_name":"av1","codec_type":"video","profile":"Main","width":320,"height":240,"pix_fmt":"yuv420p"}`),
			want: Media{Kind: "video", Container: "webm", VideoCodec: "av1", Width: 320, Height: 240, DurationS: 2, ContentType: "video/webm"},
		},
		{
			name: "jpeg",
			json: probeJSON(`"format":{"format_name":"image2","duration":"0.040000"}`,
				`{"codec_name":"mjpeg","codec_type":"video","profile":"Baseline","width":300,"height":200,"pix_fmt":"yuvj444p","duration":"0.04"}`),
			want: Media{Kind: "image", Container: "jpeg", VideoCodec: "mjpeg", Width: 300, Height: 200, ContentType: "image/jpeg"},
		},
		{
			name: "png by content",
			json: probeJSON(`"format":{"format_name":"png_pipe"}`, `{"codec_name":"png","codec_type":"video","width":8192,"height":100,"pix_fmt":"rgba"}`),
			want: Media{Kind: "image", Container: "png", VideoCodec: "png", Width: 8192, Height: 100, ContentType: "image/png"},
		},
		{
			name: "webp",
			json: probeJSON(`"format":{"format_name":"webp_pipe"}`, `{"codec_name":"webp","codec_type":"video","width":320,"height":240,"pix_fmt":"yuv420p"}`),
			want: Media{Kind: "image", Container: "webp", VideoCodec: "webp", Width: 320, Height: 240, ContentType: "image/webp"},
		},

		{
			name:    "hevc in mp4",
			json:    probeJSON(mp4Format, `{"codec_name":"hevc","codec_type":"video","width":320,"height":240,"pix_fmt":"yuv420p"}`, aac),
			wantMsg: "not playable in browsers: HEVC (H.265) video in mp4; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "mpeg-4 part 2 in mp4",
			json:    probeJSON(mp4Format, `{"codec_name":"mpeg4","codec_type":"video","width":320,"height":240,"pix_fmt":"yuv420p"}`),
			wantMsg: "not playable in browsers: MPEG-4 Part 2 video in mp4; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "vp9 in mp4",
			json:    probeJSON(mp4Format, vp9),
			wantMsg: "not playable in browsers: VP9 video in mp4; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "mp3 audio in mp4",
			json:    probeJSON(mp4Format, h264, `{"codec_name":"mp3","codec_type":"audio"}`),
			wantMsg: "not playable in browsers: H.264 video with MP3 audio in mp4; use AAC audio, or none, with H.264 in mp4",
		},
		{
			name:    "a second audio track in AC-3",
			json:    probeJSON(mp4Format, h264, aac, `{"codec_name":"ac3","codec_type":"audio"}`),
			wantMsg: "not playable in browsers: H.264 video with AC-3 audio in mp4; use AAC audio, or none, with H.264 in mp4",
		},
		{
			name: "4:4:4 h264",
			json: probeJSON(mp4Format, `{"codec_name":"h264","codec_type":"video","profile":"High 4:4:4 Predictive","width":320,"height":240,"pix_fmt":"yuv444p"}`),
			wantMsg: "not playable in browsers: H.264 video (High 4:4:4 Predictive, yuv444p) in mp4; " +
				"browsers decode 4:2:0 pictures only: encode it with -pix_fmt yuv420p",
		},
		{
			name:    "10-bit h264",
			json:    probeJSON(mp4Format, `{"codec_name":"h264","codec_type":"video","profile":"High 10","width":320,"height":240,"pix_fmt":"yuv420p10le"}`),
			wantMsg: "not playable in browsers: H.264 video (High 10, yuv420p10le) in mp4; browsers decode 4:2:0 pictures only: encode it with -pix_fmt yuv420p",
		},
		{
			name:    "vp9 in RGB (profile 1)",
			json:    probeJSON(webmFormat, `{"codec_name":"vp9","codec_type":"video","profile":"Profile 1","width":320,"height":240,"pix_fmt":"gbrp"}`),
			wantMsg: "not playable in browsers: VP9 video (Profile 1, gbrp) in webm; browsers decode 4:2:0 pictures only: encode it with -pix_fmt yuv420p",
		},
		{
			name:    "h264 in mov",
			json:    probeJSON(movFormat, h264, aac),
			wantMsg: "not playable in browsers: H.264 video in mov (QuickTime); use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "no ftyp box: old QuickTime",
			json:    probeJSON(`"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2"}`, h264),
			wantMsg: "not playable in browsers: H.264 video in mov (QuickTime); use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "3gp",
			json:    probeJSON(`"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2","tags":{"major_brand":"3gp4"}}`, h264),
			wantMsg: "not playable in browsers: H.264 video in 3gp; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "avif",
			json:    probeJSON(`"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","tags":{"major_brand":"avif"}}`, `{"codec_name":"av1","codec_type":"video","width":320,"height":240}`),
			wantMsg: "AVIF images are not accepted; use a jpeg, png or webp image",
		},
		{
			name:    "h264 in matroska is mkv",
			json:    probeJSON(webmFormat, h264),
			wantMsg: "not playable in browsers: H.264 video in matroska (mkv or webm); use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "aac in matroska with vp9",
			json:    probeJSON(webmFormat, vp9, aac),
			wantMsg: "not playable in browsers: VP9 video with AAC audio in webm; use Opus or Vorbis audio, or none, in webm",
		},
		{
			name:    "avi",
			json:    probeJSON(`"format":{"format_name":"avi","duration":"2"}`, `{"codec_name":"mpeg4","codec_type":"video","width":320,"height":240}`),
			wantMsg: "not playable in browsers: MPEG-4 Part 2 video in avi; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "theora in ogg",
			json:    probeJSON(`"format":{"format_name":"ogg","duration":"2"}`, `{"codec_name":"theora","codec_type":"video","width":320,"height":240}`),
			wantMsg: "not playable in browsers: Theora video in ogg; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "audio only",
			json:    probeJSON(`"format":{"format_name":"mp3","duration":"1.04"}`, `{"codec_name":"mp3","codec_type":"audio"}`),
			wantMsg: "no picture: audio only (MP3 in mp3); use a video (H.264 in mp4, or VP8, VP9 or AV1 in webm) or an image (jpeg, png or webp)",
		},
		{
			name: "audio with cover art",
			json: probeJSON(`"format":{"format_name":"mp3","duration":"1.04"}`, `{"codec_name":"mp3","codec_type":"audio"}`,
				`{"codec_name":"mjpeg","codec_type":"video","width":64,"height":64,"disposition":{"attached_pic":1}}`),
			wantMsg: "no picture: audio only (MP3 in mp3); use a video (H.264 in mp4, or VP8, VP9 or AV1 in webm) or an image (jpeg, png or webp)",
		},
		{
			name:    "no streams",
			json:    probeJSON(`"format":{"format_name":"mpegts"}`),
			wantMsg: "not a video or image: no streams found; use a video (H.264 in mp4, or VP8, VP9 or AV1 in webm) or an image (jpeg, png or webp)",
		},
		{
			name:    "subtitles only",
			json:    probeJSON(webmFormat, `{"codec_name":"webvtt","codec_type":"subtitle"}`),
			wantMsg: "not a video or image: no picture in this matroska (mkv or webm) file; use a video (H.264 in mp4, or VP8, VP9 or AV1 in webm) or an image (jpeg, png or webp)",
		},
		{
			name:    "animated gif",
			json:    probeJSON(`"format":{"format_name":"gif","duration":"1.0"}`, `{"codec_name":"gif","codec_type":"video","width":320,"height":240,"nb_frames":"10"}`),
			wantMsg: "animated GIF is not accepted; convert it to a video: use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "still gif",
			json:    probeJSON(`"format":{"format_name":"gif","duration":"0.1"}`, `{"codec_name":"gif","codec_type":"video","width":320,"height":240,"nb_frames":"1"}`),
			wantMsg: "GIF images are not accepted; use a jpeg, png or webp image",
		},
		{
			name:    "animated png",
			json:    probeJSON(`"format":{"format_name":"apng"}`, `{"codec_name":"apng","codec_type":"video","width":320,"height":240}`),
			wantMsg: "animated PNG is not accepted; use a video (H.264 in mp4, or VP8, VP9 or AV1 in webm) or an image (jpeg, png or webp)",
		},
		{
			name:    "bmp",
			json:    probeJSON(`"format":{"format_name":"bmp_pipe"}`, `{"codec_name":"bmp","codec_type":"video","width":320,"height":240}`),
			wantMsg: "BMP images are not accepted; use a jpeg, png or webp image",
		},
		{
			name:    "tiff named as a file",
			json:    probeJSON(`"format":{"format_name":"image2"}`, `{"codec_name":"tiff","codec_type":"video","width":320,"height":240}`),
			wantMsg: "TIFF images are not accepted; use a jpeg, png or webp image",
		},
		{
			name:    "lossless jpeg",
			json:    probeJSON(`"format":{"format_name":"jpeg_pipe"}`, `{"codec_name":"mjpeg","codec_type":"video","profile":"Lossless","width":320,"height":240}`),
			wantMsg: "lossless JPEG images are not shown by browsers; use a jpeg, png or webp image",
		},
		{
			name:    "animated webp",
			json:    probeJSON(`"format":{"format_name":"webp_pipe"}`, `{"codec_name":"webp","codec_type":"video","width":0,"height":0}`),
			wantMsg: "WebP image of unknown size: animated WebP is not accepted; use a video (H.264 in mp4, or VP8, VP9 or AV1 in webm) or an image (jpeg, png or webp)",
		},
		{
			name:    "image over the pixel limit: ffprobe did not decode it",
			json:    probeJSON(`"format":{"format_name":"png_pipe"}`, `{"codec_name":"png","codec_type":"video","width":0,"height":0}`),
			over:    "9000x9000",
			wantMsg: "image of 9000x9000 pixels is too large; at most 8192 pixels a side",
		},
		{
			name:    "image too wide",
			json:    probeJSON(`"format":{"format_name":"png_pipe"}`, `{"codec_name":"png","codec_type":"video","width":8193,"height":10}`),
			wantMsg: "image of 8193x10 pixels is too large; at most 8192 pixels a side",
		},
		{
			name:    "image of unknown size",
			json:    probeJSON(`"format":{"format_name":"jpeg_pipe"}`, `{"codec_name":"mjpeg","codec_type":"video"}`),
			wantMsg: "image of unknown size; use a jpeg, png or webp image",
		},
		{
			name:    "video of unknown size",
			json:    probeJSON(mp4Format, `{"codec_name":"h264","codec_type":"video","width":0,"height":0}`),
			wantMsg: "video of unknown size; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name:    "tiny video",
			json:    probeJSON(mp4Format, `{"codec_name":"h264","codec_type":"video","width":8,"height":8,"pix_fmt":"yuv420p"}`),
			wantMsg: "video of 8x8 pixels; each side must be 16 to 8192 pixels",
		},
		{
			name:    "huge video",
			json:    probeJSON(webmFormat, `{"codec_name":"vp9","codec_type":"video","width":16384,"height":64,"pix_fmt":"yuv420p"}`),
			wantMsg: "video of 16384x64 pixels; each side must be 16 to 8192 pixels",
		},
		{
			name:    "video over the pixel limit: ffprobe did not decode it",
			json:    probeJSON(mp4Format, `{"codec_name":"h264","codec_type":"video","width":0,"height":0,"pix_fmt":"yuv420p"}`),
			over:    "10240x8192",
			wantMsg: "video of 10240x8192 pixels; each side must be 16 to 8192 pixels",
		},
		{
			name:    "zero duration",
			json:    probeJSON(`"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"0.000000","tags":{"major_brand":"isom"}}`, h264),
			wantMsg: "video of no duration; use H.264 in mp4, or VP8, VP9 or AV1 in webm",
		},
		{
			name: "unknown duration: a browser's recording",
			json: probeJSON(`"format":{"format_name":"matroska,webm","duration":"N/A"}`, vp9, opus),
			wantMsg: "video of unknown duration: the file does not state it, as browser recordings do not; " +
				"rewrite it, e.g. with ffmpeg -i in.webm -c copy out.webm",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseMediaProbe(t, tt.json)
			p.oversize = tt.over
			got, err := playable(p)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("playable: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("playable (-want +got):\n%s", diff)
				}
				return
			}
			var fe *facet.Error
			if !errors.As(err, &fe) || fe.Code != facet.EUnprocessable {
				t.Fatalf("playable = %+v, %v; want an EUnprocessable refusal", got, err)
			}
			if diff := cmp.Diff(tt.wantMsg, fe.Message); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if got != (Media{}) {
				t.Errorf("playable refused and returned %+v", got)
			}
		})
	}
}

// TestProbeMediaStderr pins what ProbeMedia reads in ffprobe's errors.
func TestProbeMediaStderr(t *testing.T) {
	tests := []struct {
		stderr              string
		wantFormat, wantBig string
	}{
		{"[hls @ 0x564a17238500] [error] Format not on whitelist 'mov,matroska'\n[error] file:input: Invalid argument\n", "hls", ""},
		{"[png @ 0x55c6] [IMGUTILS @ 0x7ffc] [error] Picture size 9000x9000 exceeds specified max pixel count 67108864, see the documentation\n", "", "9000x9000"},
		{"[IMGUTILS @ 0x7ffc8bf50290] [error] Picture size 30000x30000 is invalid\n", "", "30000x30000"},
		{"[IMGUTILS @ 0x7ffc8bf50290] [error] Picture size 0x0 is invalid\n", "", ""},
		{"[error] file:input: Invalid data found when processing input\n", "", ""},
	}
	for _, tt := range tests {
		got := [2]string{formatNotAllowed([]byte(tt.stderr)), oversize([]byte(tt.stderr))}
		if diff := cmp.Diff([2]string{tt.wantFormat, tt.wantBig}, got); diff != "" {
			t.Errorf("%q: format, oversize (-want +got):\n%s", tt.stderr, diff)
		}
	}
}

func parseMediaProbe(t *testing.T, data string) mediaProbe {
	t.Helper()
	var p mediaProbe
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		t.Fatalf("test JSON: %v\n%s", err, data)
	}
	return p
}

// TestProbeMedia probes files made here with ffmpeg, in each accepted
// format and in refused ones.
func TestProbeMedia(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()
	src := []string{"-f", "lavfi", "-i", "testsrc=d=1:s=160x120:r=25"}
	still := []string{"-f", "lavfi", "-i", "testsrc=s=160x120", "-frames:v", "1"}
	sound := []string{"-f", "lavfi", "-i", "sine=d=1"}
	join := func(parts ...[]string) []string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	vp9 := []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p"}
	video := func(codec, audio string) Media {
		container, ct := "mp4", "video/mp4"
		if codec != "h264" {
			container, ct = "webm", "video/webm"
		}
		return Media{Kind: "video", Container: container, VideoCodec: codec, AudioCodec: audio, Width: 160, Height: 120, DurationS: 1, ContentType: ct}
	}
	img := func(container, codec string) Media {
		return Media{Kind: "image", Container: container, VideoCodec: codec, Width: 160, Height: 120, ContentType: "image/" + container}
	}
	const useVideo = "use H.264 in mp4, or VP8, VP9 or AV1 in webm"
	tests := []struct {
		name     string
		file     string
		encoders []string // skip without them
		args     []string // ffmpeg's, to make file; nil: made otherwise
		want     Media
		wantMsg  string // a prefix of the refusal's message; "" = accepted
	}{
		{"h264 and aac in mp4", "a.mp4", []string{"libx264", "aac"}, join(src, sound, x264, []string{"-c:a", "aac"}), video("h264", "aac"), ""},
		{"h264 in mp4, no audio", "b.mp4", []string{"libx264"}, join(src, x264), video("h264", ""), ""},
		{"vp8 and vorbis in webm", "c.webm", []string{"libvpx", "libvorbis"},
			join(src, sound, []string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libvorbis"}), video("vp8", "vorbis"), ""},
		{"vp9 and opus in webm", "d.webm", []string{"libvpx-vp9", "libopus"}, join(src, sound, vp9, []string{"-c:a", "libopus"}), video("vp9", "opus"), ""},
		{"av1 in webm", "e.webm", []string{"libaom-av1"},
			join(src, []string{"-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1", "-pix_fmt", "yuv420p"}), video("av1", ""), ""},
		{"vp9 in mkv passes for webm", "f.mkv", []string{"libvpx-vp9"}, join(src, vp9), video("vp9", ""), ""},
		{"jpeg named .jpg", "g.jpg", []string{"mjpeg"}, still, img("jpeg", "mjpeg"), ""},
		{"jpeg without a name", "upload1", []string{"mjpeg"}, join(still, []string{"-f", "image2", "-c:v", "mjpeg"}), img("jpeg", "mjpeg"), ""},
		{"png", "h.png", []string{"png"}, still, img("png", "png"), ""},
		{"webp", "i.webp", []string{"libwebp"}, still, img("webp", "webp"), ""},

		{"hevc in mp4", "j.mp4", []string{"libx265"}, join(src, []string{"-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"}), Media{},
			"not playable in browsers: HEVC (H.265) video in mp4; " + useVideo},
		{"mpeg-4 part 2 in mp4", "k.mp4", []string{"mpeg4"}, join(src, []string{"-c:v", "mpeg4"}), Media{},
			"not playable in browsers: MPEG-4 Part 2 video in mp4; " + useVideo},
		{"4:4:4 h264 in mp4", "l.mp4", []string{"libx264"}, join(src, []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"}), Media{},
			"not playable in browsers: H.264 video (High 4:4:4 Predictive, yuv444p) in mp4"},
		{"h264 in mov", "m.mov", []string{"libx264"}, join(src, x264), Media{},
			"not playable in browsers: H.264 video in mov (QuickTime); " + useVideo},
		{"h264 in mkv", "n.mkv", []string{"libx264"}, join(src, x264), Media{},
			"not playable in browsers: H.264 video in matroska (mkv or webm); " + useVideo},
		{"vp9 and aac in mkv", "o.mkv", []string{"libvpx-vp9", "aac"}, join(src, sound, vp9, []string{"-c:a", "aac"}), Media{},
			"not playable in browsers: VP9 video with AAC audio in webm; use Opus or Vorbis audio, or none, in webm"},
		{"mpeg-4 in avi", "p.avi", []string{"mpeg4"}, join(src, []string{"-c:v", "mpeg4"}), Media{},
			"not playable in browsers: MPEG-4 Part 2 video in avi; " + useVideo},
		{"tiny h264", "q.mp4", []string{"libx264"}, join([]string{"-f", "lavfi", "-i", "testsrc=d=1:s=8x8"}, x264), Media{},
			"video of 8x8 pixels; each side must be 16 to 8192 pixels"},
		{"animated gif", "r.gif", []string{"gif"}, join(src, []string{"-t", "0.4"}), Media{},
			"animated GIF is not accepted"},
		{"still gif", "s.gif", []string{"gif"}, still, Media{}, "GIF images are not accepted"},
		{"animated png", "t.png", []string{"apng"}, join(src, []string{"-t", "0.4", "-f", "apng", "-plays", "0"}), Media{},
			"animated PNG is not accepted"},
		{"bmp", "u.bmp", []string{"bmp"}, still, Media{}, "BMP images are not accepted; use a jpeg, png or webp image"},
		{"tiff", "v.tiff", []string{"tiff"}, still, Media{}, "TIFF images are not accepted; use a jpeg, png or webp image"},
		{"animated webp", "w.webp", []string{"libwebp_anim"}, join(src, []string{"-t", "0.4", "-c:v", "libwebp_anim", "-loop", "0"}), Media{},
			"WebP image of unknown size: animated WebP is not accepted"},
		{"png too wide", "x.png", []string{"png"}, []string{"-f", "lavfi", "-i", "color=s=8200x16", "-frames:v", "1"}, Media{},
			"image of 8200x16 pixels is too large; at most 8192 pixels a side"},
		// Pictures of which ffprobe decodes nothing, ffmpeg refusing
		// to allocate them.
		{"png of 9000x9000 in 57 bytes", "y.png", nil, nil, Media{},
			"image of 9000x9000 pixels is too large; at most 8192 pixels a side"},
		{"png of 30000x30000 in 57 bytes", "y2.png", nil, nil, Media{},
			"image of 30000x30000 pixels is too large; at most 8192 pixels a side"},
		{"mp3", "z.mp3", []string{"libmp3lame"}, sound, Media{}, "no picture: audio only (MP3 in mp3); use a video"},
		{"aac in m4a", "z.m4a", []string{"aac"}, sound, Media{}, "no picture: audio only (AAC in mp4 or mov)"},
		// ffprobe 4.1 takes a .txt file for tty art, which the
		// format whitelist refuses; 5.1 finds no format at all.
		{"text", "notes.txt", nil, nil, Media{}, "not a video or image "},
		{"text without a name", "upload2", nil, nil, Media{}, "not a video or image that can be read (input: Invalid data found when processing input); use a video"},
		{"a playlist", "list.m3u8", nil, nil, Media{}, "not a video or image format that is accepted (an HLS playlist)"},
		{"empty", "empty.mp4", nil, nil, Media{}, "the file is empty"},
	}
	// Files that ffmpeg does not make.
	write(t, dir, "notes.txt", []byte("this is not a video\n"))
	write(t, dir, "upload2", []byte("this is not a video\n"))
	write(t, dir, "empty.mp4", nil)
	write(t, dir, "y.png", pngHeader(9000, 9000))
	write(t, dir, "y2.png", pngHeader(30000, 30000))
	write(t, dir, "list.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nsegment.ts\n#EXT-X-ENDLIST\n"))

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			needEncoders(t, tt.encoders...)
			path := filepath.Join(dir, tt.file)
			if tt.args != nil {
				ffmpeg(t, append(tt.args, path)...)
			}
			got, err := ProbeMedia(context.Background(), "", path)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("ProbeMedia: %v", err)
				}
				if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 0.05)); diff != "" {
					t.Errorf("ProbeMedia (-want +got):\n%s", diff)
				}
				return
			}
			var fe *facet.Error
			if !errors.As(err, &fe) || fe.Code != facet.EUnprocessable {
				t.Fatalf("ProbeMedia = %+v, %v; want an EUnprocessable refusal", got, err)
			}
			if !strings.HasPrefix(fe.Message, tt.wantMsg) {
				t.Errorf("message %q, want it to start with %q", fe.Message, tt.wantMsg)
			}
			if strings.Contains(fe.Message, dir) {
				t.Errorf("message %q shows the file's path", fe.Message)
			}
		})
	}

	t.Run("missing file is our fault", func(t *testing.T) {
		_, err := ProbeMedia(context.Background(), "", filepath.Join(dir, "missing.mp4"))
		var fe *facet.Error
		if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &fe) {
			t.Errorf("ProbeMedia error %v, want a plain not-exist error", err)
		}
	})
	t.Run("missing ffprobe is our fault", func(t *testing.T) {
		_, err := ProbeMedia(context.Background(), filepath.Join(dir, "no-ffprobe"), filepath.Join(dir, "notes.txt"))
		var fe *facet.Error
		if err == nil || errors.As(err, &fe) {
			t.Errorf("ProbeMedia error %v, want a plain error", err)
		}
	})
}

// pngHeader returns a PNG that claims a w x h 8-bit grey picture and has
// no picture data: what ffprobe needs to know the size.
func pngHeader(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(append(c, typ...), data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // depth, grey, deflate, no filter, no interlace
	png := []byte("\x89PNG\r\n\x1a\n")
	png = append(png, chunk("IHDR", ihdr)...)
	png = append(png, chunk("IDAT", nil)...)
	return append(png, chunk("IEND", nil)...)
}

func TestThumbnailTimes(t *testing.T) {
	tests := []struct {
		name string
		m    Media
		n    int
		want []float64
	}{
		{"ten seconds in five", Media{Kind: "video", DurationS: 10}, 5, []float64{1, 3, 5, 7, 9}},
		{"one", Media{Kind: "video", DurationS: 7}, 1, []float64{3.5}},
		{"image", Media{Kind: "image"}, 5, []float64{0}},
		{"no duration", Media{Kind: "video"}, 3, []float64{0}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ThumbnailTimes(tt.m, tt.n), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestThumbnailSize(t *testing.T) {
	tests := []struct {
		w, h, width  int
		wantW, wantH int
	}{
		{320, 240, 160, 160, 120},
		{1920, 1080, 160, 160, 90},
		{1080, 1920, 160, 160, 284}, // 284.4
		{1024, 576, 161, 160, 90},   // odd width: down to even
		{100, 1000, 160, 64, 640},   // too tall: narrower instead
		{16, 8192, 640, 6, 2560},
		{8192, 16, 160, 160, 2}, // a sliver keeps 2 pixels
		{0, 0, 160, 160, 0},     // unknown: ffmpeg decides
	}
	for _, tt := range tests {
		w, h := thumbnailSize(Media{Width: tt.w, Height: tt.h}, tt.width)
		if diff := cmp.Diff([2]int{tt.wantW, tt.wantH}, [2]int{w, h}); diff != "" {
			t.Errorf("thumbnailSize(%dx%d, %d) (-want +got):\n%s", tt.w, tt.h, tt.width, diff)
		}
	}
}

func TestThumbnailArgs(t *testing.T) {
	head := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+error", "-protocol_whitelist", "file"}
	tail := []string{"-q:v", "5", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"}
	join := func(parts ...[]string) []string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	tests := []struct {
		name  string
		m     Media
		at    float64
		width int
		want  []string
	}{
		{
			name: "mp4", m: Media{Kind: "video", Container: "mp4", Width: 1920, Height: 1080, DurationS: 30}, at: 1.5, width: 160,
			want: join(head, []string{"-ss", "1.500", "-f", "mov", "-i", "file:in.mp4", "-map", "0:V:0", "-frames:v", "1",
				"-vf", "scale=160:90:flags=bicubic,setsar=1,format=yuvj420p"}, tail),
		},
		{
			name: "webm", m: Media{Kind: "video", Container: "webm", Width: 640, Height: 480, DurationS: 30}, at: 28.12345, width: 640,
			want: join(head, []string{"-ss", "28.123", "-f", "matroska", "-i", "file:in.mp4", "-map", "0:V:0", "-frames:v", "1",
				"-vf", "scale=640:480:flags=bicubic,setsar=1,format=yuvj420p"}, tail),
		},
		{
			name: "image: no seeking", m: Media{Kind: "image", Container: "png", Width: 512, Height: 512}, at: 3, width: 160,
			want: join(head, []string{"-f", "png_pipe", "-i", "file:in.mp4", "-map", "0:V:0", "-frames:v", "1",
				"-vf", "scale=160:160:flags=bicubic,setsar=1,format=yuvj420p"}, tail),
		},
		{
			name: "unknown size and container", m: Media{Kind: "image"}, width: 160,
			want: join(head, []string{"-i", "file:in.mp4", "-map", "0:V:0", "-frames:v", "1",
				"-vf", "scale=160:-2:flags=bicubic,setsar=1,format=yuvj420p"}, tail),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ThumbnailArgs("in.mp4", tt.m, tt.at, tt.width)); diff != "" {
				t.Errorf("ThumbnailArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestThumbnails(t *testing.T) {
	t.Parallel()
	needTools(t)
	dir := t.TempDir()

	t.Run("video", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, file string
			encoders   []string
			enc        []string
		}{
			{"h264 in mp4", "ten.mp4", []string{"libx264"}, []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}},
			{"vp9 in webm", "ten.webm", []string{"libvpx-vp9"}, []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				needEncoders(t, tt.encoders...)
				input := filepath.Join(dir, tt.file)
				// testsrc's counter shows the second, and its gradient
				// scrolls: every thumbnail must differ.
				ffmpeg(t, append(append([]string{"-f", "lavfi", "-i", "testsrc=d=10:s=320x240:r=25"}, tt.enc...), input)...)
				m, err := ProbeMedia(context.Background(), "", input)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				thumbs, err := Thumbnails(context.Background(), "", input, m, 5, 160)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("5 thumbnails in %v, %d to %d bytes", time.Since(start).Round(time.Millisecond), minLen(thumbs), maxLen(thumbs))
				checkThumbs(t, thumbs, 5, 160, 120)
			})
		}
	})

	t.Run("image", func(t *testing.T) {
		t.Parallel()
		input := filepath.Join(dir, "still.png")
		ffmpeg(t, "-f", "lavfi", "-i", "testsrc=s=400x300", "-frames:v", "1", input)
		m, err := ProbeMedia(context.Background(), "", input)
		if err != nil {
			t.Fatal(err)
		}
		thumbs, err := Thumbnails(context.Background(), "", input, m, 5, 160)
		if err != nil {
			t.Fatal(err)
		}
		checkThumbs(t, thumbs, 1, 160, 120)
	})

	t.Run("audio outlasts the video", func(t *testing.T) {
		t.Parallel()
		needEncoders(t, "libx264", "aac")
		input := filepath.Join(dir, "short_picture.mp4")
		ffmpeg(t, "-f", "lavfi", "-i", "testsrc=d=2:s=320x240:r=25", "-f", "lavfi", "-i", "sine=d=4",
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", input)
		m, err := ProbeMedia(context.Background(), "", input)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(m.DurationS-4) > 0.1 {
			t.Fatalf("DurationS %g, want 4 (the audio's)", m.DurationS)
		}
		// At 0.5, 1.5, 2.5 and 3.5 s: the picture ends at 2 s.
		thumbs, err := Thumbnails(context.Background(), "", input, m, 4, 160)
		if err != nil {
			t.Fatal(err)
		}
		checkThumbs(t, thumbs, 2, 160, 120)
	})

	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		// A FIFO nobody writes to: ffmpeg blocks opening it until killed.
		fifo := filepath.Join(dir, "never.mp4")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		m := Media{Kind: "video", Container: "mp4", Width: 320, Height: 240, DurationS: 10}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Thumbnails(ctx, "", fifo, m, 5, 160)
		elapsed := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Thumbnails error %v, want context.DeadlineExceeded", err)
		}
		if elapsed > 5*time.Second {
			t.Errorf("Thumbnails returned %v after the deadline", elapsed-300*time.Millisecond)
		}
	})

	t.Run("bounds", func(t *testing.T) {
		m := Media{Kind: "image", Container: "png", Width: 10, Height: 10}
		for _, c := range []struct{ n, width int }{{0, 160}, {21, 160}, {5, 15}, {5, 641}} {
			if _, err := Thumbnails(context.Background(), "", "in.png", m, c.n, c.width); facet.ErrorCode(err) != facet.EInvalid {
				t.Errorf("Thumbnails(n=%d, width=%d) error %v, want EInvalid", c.n, c.width, err)
			}
		}
	})

	t.Run("not decodable", func(t *testing.T) {
		t.Parallel()
		input := write(t, dir, "fake.mp4", bytes.Repeat([]byte("not a video "), 100))
		m := Media{Kind: "video", Container: "mp4", Width: 320, Height: 240, DurationS: 10}
		_, err := Thumbnails(context.Background(), "", input, m, 2, 160)
		var fe *facet.Error
		if !errors.As(err, &fe) || fe.Code != facet.EUnprocessable {
			t.Fatalf("Thumbnails error %v, want EUnprocessable", err)
		}
		if !strings.HasPrefix(fe.Message, "the video could not be decoded at 2.5 s") || strings.Contains(fe.Message, dir) {
			t.Errorf("message %q: want the time, without the path", fe.Message)
		}
	})
}

// checkThumbs decodes thumbs and checks that there are n, w x h, small,
// and all different.
func checkThumbs(t *testing.T, thumbs [][]byte, n, w, h int) {
	t.Helper()
	if len(thumbs) != n {
		t.Fatalf("%d thumbnails, want %d", len(thumbs), n)
	}
	var imgs []*image.YCbCr
	for i, b := range thumbs {
		if len(b) > 30<<10 {
			t.Errorf("thumbnail %d: %d bytes, want at most 30 KB", i, len(b))
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("thumbnail %d: %v", i, err)
		}
		if got := img.Bounds().Size(); got != image.Pt(w, h) {
			t.Errorf("thumbnail %d: %v, want %dx%d", i, got, w, h)
		}
		y, ok := img.(*image.YCbCr)
		if !ok {
			t.Fatalf("thumbnail %d: a %T, want YCbCr", i, img)
		}
		imgs = append(imgs, y)
	}
	// testsrc's pattern repeats; its counter, a few dozen samples at
	// 160x120, does not. The same frame twice makes the same JPEG.
	for i := range imgs {
		for j := i + 1; j < len(imgs); j++ {
			changed := 0
			for k, a := range imgs[i].Y {
				if d := int(a) - int(imgs[j].Y[k]); d > 32 || d < -32 {
					changed++
				}
			}
			t.Logf("thumbnails %d and %d: %d samples differ", i, j, changed)
			if changed < 10 {
				t.Errorf("thumbnails %d and %d: %d samples differ: the same frame?", i, j, changed)
			}
		}
	}
}

func minLen(bs [][]byte) int {
	m := math.MaxInt
	for _, b := range bs {
		m = min(m, len(b))
	}
	return m
}

func maxLen(bs [][]byte) int {
	m := 0
	for _, b := range bs {
		m = max(m, len(b))
	}
	return m
}

var (
	encodersOnce sync.Once
	encoderList  string
	encodersErr  error
)

// needEncoders skips t unless ffmpeg has every encoder named.
func needEncoders(t *testing.T, names ...string) {
	t.Helper()
	if len(names) == 0 {
		return
	}
	encodersOnce.Do(func() {
		var out []byte
		out, encodersErr = exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
		encoderList = string(out)
	})
	if encodersErr != nil {
		t.Fatalf("ffmpeg -encoders: %v", encodersErr)
	}
	for _, name := range names {
		found := false
		for _, line := range strings.Split(encoderList, "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[1] == name {
				found = true
				break
			}
		}
		if !found {
			t.Skipf("this ffmpeg has no %s encoder", name)
		}
	}
}
