package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/humaninsight/facet"
)

// Media is a stimulus that current browsers play: what ProbeMedia found.
type Media struct {
	Kind      string // "video" or "image"
	Container string // "mp4" or "webm" for a video; "jpeg", "png" or "webp" for an image
	// VideoCodec is ffprobe's codec name of the picture: "h264", "vp8",
	// "vp9" or "av1" for a video, "mjpeg", "png" or "webp" for an image.
	VideoCodec string
	AudioCodec string // "aac", "opus" or "vorbis"; "" without audio
	// Width and Height are the display size, as a browser's videoWidth
	// and videoHeight: after the sample aspect ratio and the rotation.
	Width, Height int
	DurationS     float64 // the container's duration (the longest track); 0 for an image
	ContentType   string  // "video/mp4", "video/webm", "image/jpeg", "image/png" or "image/webp"
}

// Limits of what ProbeMedia accepts.
const (
	// MaxImageSide is the largest width or height of an image. It also
	// caps the pixels that ffprobe may decode (MaxImageSide squared), so
	// that a small file claiming a huge picture cannot take gigabytes.
	MaxImageSide = 8192
	// MinVideoSide and MaxVideoSide bound a video's coded width and
	// height: below, nobody can see anything; above, no browser decodes
	// it (H.264's highest level stops at 8192x4320).
	MinVideoSide = 16
	MaxVideoSide = 8192
)

// maxProbeOutput bounds ffprobe's JSON: a file claiming thousands of
// streams must not grow memory.
const maxProbeOutput = 1 << 20

// probeFormats are the demuxers ffprobe may use on an upload (its
// -format_whitelist): the accepted containers, and the common ones that
// are refused, so that the refusal can name them. Anything else is
// refused before it is parsed, in particular playlists (hls, concat)
// whose entries name other files: with them a thumbnail would show
// whatever file on the server the playlist points at.
var probeFormats = strings.Join([]string{
	"mov", "matroska", // mp4 (and mov, 3gp, avif), webm (and mkv)
	"avi", "flv", "mpegts", "mpeg", "asf", "ogg", "ivf", "h264", "hevc", "m4v",
	"gif", "apng", "image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe",
	"gif_pipe", "svg_pipe", "j2k_pipe", "jpegls_pipe", "psd_pipe", "qoi_pipe",
	"mp3", "aac", "wav", "flac", "aiff", "w64", "amr",
}, ",")

// ProbeMediaArgs returns ffprobe's argv (without the program name) for
// probing the stimulus at path: JSON output of format and streams, read
// from the local file only and with the demuxers of probeFormats only.
func ProbeMediaArgs(path string) []string {
	return []string{
		"-hide_banner",
		"-loglevel", "level+error",
		// Only the file itself: no network, no other protocols.
		"-protocol_whitelist", "file",
		"-format_whitelist", probeFormats,
		// A decoder option: ffprobe decodes a frame of each stream, and
		// a picture above this fails rather than being allocated.
		"-max_pixels", strconv.Itoa(MaxImageSide * MaxImageSide),
		"-print_format", "json",
		"-show_format",
		"-show_streams",
		// "file:" keeps a name with a colon from being read as a
		// protocol, -i one starting with "-" from being an option.
		"-i", "file:" + path,
	}
}

// ProbeMedia runs ffprobe (program path bin, "" = "ffprobe") once on the
// local file path and accepts it if current browsers play it: H.264 video
// (with AAC audio or none) in mp4; VP8, VP9 or AV1 video (with Opus or
// Vorbis audio or none) in webm; a jpeg, png or webp image. The file's
// size is the caller's to limit.
//
// Every refusal is a *facet.Error with code EUnprocessable whose message
// tells the client what was found and what is accepted, e.g. "not
// playable in browsers: HEVC (H.265) video in mp4; use H.264 in mp4, or
// VP8, VP9 or AV1 in webm". That holds for an empty file and for one that
// is no media at all too: the codes ENotVideo, EEmptyFile and friends
// describe a recording that failed analysis (IsBadVideo, stored as the
// recording's failure) and have no HTTP status, whereas a stimulus is
// refused while it is being uploaded, as any request refused on
// substance. ffprobe's own words are in the error's cause.
//
// A missing file, a missing ffprobe or unexpected output is a plain
// error: the fault is ours. A cancelled ctx kills ffprobe.
func ProbeMedia(ctx context.Context, bin, path string) (Media, error) {
	if bin == "" {
		bin = "ffprobe"
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Media{}, fmt.Errorf("ffmpeg: probe media: %w", err)
	}
	if fi.IsDir() {
		return Media{}, fmt.Errorf("ffmpeg: probe media: %s is a directory", path)
	}
	if fi.Size() == 0 {
		return Media{}, refuse("the file is empty; " + anyAdvice)
	}
	stdout := &headBuffer{max: maxProbeOutput + 1}
	stderr := &headBuffer{max: 4 << 10}
	cmd := exec.CommandContext(ctx, bin, ProbeMediaArgs(path)...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		return Media{}, fmt.Errorf("ffmpeg: probe media: %w", ctx.Err())
	}
	tail := logTail{input: "file:" + path}
	forEachLine(bytes.NewReader(stderr.buf), tail.add)
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return Media{}, fmt.Errorf("ffmpeg: probe media: %w", err)
		}
		cause := fmt.Errorf("ffmpeg: probe media: %s: %w: %s", bin, err, tail.message())
		if name := formatNotAllowed(stderr.buf); name != "" {
			return Media{}, refuseWith(cause, "not a video or image format that is accepted (%s); %s", formatLabel(name), anyAdvice)
		}
		return Media{}, refuseWith(cause, "not a video or image that can be read%s; %s", inParens(tail.message()), anyAdvice)
	}
	if len(stdout.buf) > maxProbeOutput {
		return Media{}, refuse("not a video or image that can be read (too many streams); " + anyAdvice)
	}
	var p mediaProbe
	if err := json.Unmarshal(stdout.buf, &p); err != nil {
		return Media{}, fmt.Errorf("ffmpeg: probe media: parse ffprobe output: %w", err)
	}
	p.oversize = oversize(stderr.buf)
	m, err := playable(p)
	var fe *facet.Error
	if errors.As(err, &fe) && fe.Err == nil && tail.message() != "" {
		fe.Err = errors.New("ffprobe: " + tail.message())
	}
	return m, err
}

// mediaProbe is the part of ffprobe's JSON that playable needs.
type mediaProbe struct {
	Streams []mediaStream `json:"streams"`
	Format  struct {
		FormatName string            `json:"format_name"`
		Duration   string            `json:"duration"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
	// oversize is "WxH" when ffprobe refused to decode a picture over
	// ProbeMedia's limits (and so reports its size as 0x0); from stderr.
	oversize string
}

type mediaStream struct {
	probeStream
	Profile           string `json:"profile"`
	PixFmt            string `json:"pix_fmt"`
	SampleAspectRatio string `json:"sample_aspect_ratio"`
	NbFrames          string `json:"nb_frames"`
}

// Advice that ends the refusals: what is accepted.
const (
	videoAdvice = "use H.264 in mp4, or VP8, VP9 or AV1 in webm"
	imageAdvice = "use a jpeg, png or webp image"
	anyAdvice   = "use a video (H.264 in mp4, or VP8, VP9 or AV1 in webm) or an image (jpeg, png or webp)"
)

// The codecs current browsers play in each container, and the pixel
// formats they decode: 4:2:0 only (Safari and Firefox play no 4:4:4 or
// 4:2:2 H.264, nor 10-bit H.264; VP9 profile 2 and AV1 Main play 10-bit).
// An unknown pixel format ("") is let through.
var (
	mp4Video   = map[string]bool{"h264": true}
	mp4Audio   = map[string]bool{"aac": true}
	webmVideo  = map[string]bool{"vp8": true, "vp9": true, "av1": true}
	webmAudio  = map[string]bool{"opus": true, "vorbis": true}
	pixFormats = map[string]map[string]bool{
		"h264": {"yuv420p": true, "yuvj420p": true},
		"vp8":  {"yuv420p": true, "yuva420p": true},
		"vp9":  {"yuv420p": true, "yuva420p": true, "yuv420p10le": true},
		"av1":  {"yuv420p": true, "yuv420p10le": true},
	}
)

// playable applies the rules of ProbeMedia to ffprobe's description.
func playable(p mediaProbe) (Media, error) {
	format := p.Format.FormatName
	if len(p.Streams) == 0 {
		return Media{}, refuse("not a video or image: no streams found; " + anyAdvice)
	}
	var pic *mediaStream
	var audio []*mediaStream
	for i := range p.Streams {
		s := &p.Streams[i]
		switch {
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && pic == nil:
			pic = s
		case s.CodecType == "audio":
			audio = append(audio, s)
		}
	}
	if pic == nil {
		if len(audio) > 0 {
			return Media{}, refusef("no picture: audio only (%s in %s); %s", codecLabel(audio[0].CodecName), formatLabel(format), anyAdvice)
		}
		return Media{}, refusef("not a video or image: no picture in this %s file; %s", formatLabel(format), anyAdvice)
	}
	if isImageFormat(format) {
		return playableImage(format, pic, p.oversize)
	}
	container := formatLabel(format)
	switch format {
	case "mov,mp4,m4a,3gp,3g2,mj2":
		brand := strings.TrimSpace(p.Format.Tags["major_brand"])
		if kind := imageBrand(brand); kind != "" {
			return Media{}, refusef("%s images are not accepted; %s", kind, imageAdvice)
		}
		container = mp4Brand(brand)
		if container == "mp4" {
			return playableVideo(p, pic, audio, "mp4", mp4Video, mp4Audio, "use AAC audio, or none, with H.264 in mp4")
		}
	case "matroska,webm":
		// ffprobe does not show the EBML doctype, so a matroska file is
		// webm when its codecs are webm's: a browser given it as
		// video/webm plays it.
		if !webmVideo[pic.CodecName] {
			return Media{}, notPlayable(codecLabel(pic.CodecName)+" video in matroska (mkv or webm)", videoAdvice)
		}
		return playableVideo(p, pic, audio, "webm", webmVideo, webmAudio, "use Opus or Vorbis audio, or none, in webm")
	}
	return Media{}, notPlayable(codecLabel(pic.CodecName)+" video in "+container, videoAdvice)
}

// playableVideo checks a video in an accepted container, whose codecs
// must be among video and audio.
func playableVideo(p mediaProbe, pic *mediaStream, audio []*mediaStream, container string, video, audioOK map[string]bool, audioAdvice string) (Media, error) {
	if !video[pic.CodecName] {
		return Media{}, notPlayable(codecLabel(pic.CodecName)+" video in "+container, videoAdvice)
	}
	for _, a := range audio {
		if !audioOK[a.CodecName] {
			return Media{}, notPlayable(codecLabel(pic.CodecName)+" video with "+codecLabel(a.CodecName)+" audio in "+container, audioAdvice)
		}
	}
	if pf := pic.PixFmt; pf != "" && !pixFormats[pic.CodecName][pf] {
		what := pf
		if pic.Profile != "" {
			what = pic.Profile + ", " + pf
		}
		return Media{}, notPlayable(fmt.Sprintf("%s video (%s) in %s", codecLabel(pic.CodecName), what, container),
			"browsers decode 4:2:0 pictures only: encode it with -pix_fmt yuv420p")
	}
	w, h := pic.Width, pic.Height
	switch {
	case (w <= 0 || h <= 0) && p.oversize != "":
		return Media{}, refusef("video of %s pixels; each side must be %d to %d pixels", p.oversize, MinVideoSide, MaxVideoSide)
	case w <= 0 || h <= 0:
		return Media{}, refusef("video of unknown size; %s", videoAdvice)
	case w < MinVideoSide || h < MinVideoSide || w > MaxVideoSide || h > MaxVideoSide:
		return Media{}, refusef("video of %dx%d pixels; each side must be %d to %d pixels", w, h, MinVideoSide, MaxVideoSide)
	}
	d, known := duration(p.Format.Duration, pic.Duration)
	switch {
	case !known:
		return Media{}, refuse("video of unknown duration: the file does not state it, as browser recordings do not; " +
			"rewrite it, e.g. with ffmpeg -i in.webm -c copy out.webm")
	case d <= 0:
		return Media{}, refuse("video of no duration; " + videoAdvice)
	}
	m := Media{
		Kind:        "video",
		Container:   container,
		VideoCodec:  pic.CodecName,
		DurationS:   d,
		ContentType: "video/" + container,
	}
	if len(audio) > 0 {
		m.AudioCodec = audio[0].CodecName
	}
	m.Width, m.Height = displaySize(pic)
	return m, nil
}

// imageContainers maps the image codecs that browsers show to the
// container name and content type of Media.
var imageContainers = map[string][2]string{
	"mjpeg": {"jpeg", "image/jpeg"},
	"png":   {"png", "image/png"},
	"webp":  {"webp", "image/webp"},
}

// playableImage checks a picture found by an image demuxer.
func playableImage(format string, pic *mediaStream, oversize string) (Media, error) {
	codec := pic.CodecName
	switch {
	case format == "apng" || codec == "apng":
		return Media{}, refuse("animated PNG is not accepted; " + anyAdvice)
	case codec == "gif":
		if n, _ := strconv.Atoi(pic.NbFrames); n > 1 {
			return Media{}, refuse("animated GIF is not accepted; convert it to a video: " + videoAdvice)
		}
		return Media{}, refuse("GIF images are not accepted; " + imageAdvice)
	case codec == "mjpeg" && pic.Profile == "Lossless":
		return Media{}, refuse("lossless JPEG images are not shown by browsers; " + imageAdvice)
	}
	c, ok := imageContainers[codec]
	if !ok {
		return Media{}, refusef("%s images are not accepted; %s", codecLabel(codec), imageAdvice)
	}
	w, h := pic.Width, pic.Height
	switch {
	case oversize != "":
		return Media{}, refusef("image of %s pixels is too large; at most %d pixels a side", oversize, MaxImageSide)
	case (w <= 0 || h <= 0) && codec == "webp":
		// ffmpeg before 7.1 cannot decode an animated WebP and says
		// nothing of its size.
		return Media{}, refuse("WebP image of unknown size: animated WebP is not accepted; " + anyAdvice)
	case w <= 0 || h <= 0:
		return Media{}, refuse("image of unknown size; " + imageAdvice)
	case w > MaxImageSide || h > MaxImageSide:
		return Media{}, refusef("image of %dx%d pixels is too large; at most %d pixels a side", w, h, MaxImageSide)
	}
	m := Media{Kind: "image", Container: c[0], VideoCodec: codec, ContentType: c[1]}
	m.Width, m.Height = displaySize(pic)
	return m, nil
}

// isImageFormat reports whether format_name is an image demuxer: image2
// (by file name), one of the *_pipe ones (by content), gif or apng.
func isImageFormat(format string) bool {
	return isStill(format) || format == "gif" || format == "apng"
}

// mp4Brand names the file type of the mov demuxer's input by its major
// brand: QuickTime (brand "qt", or no ftyp box at all, which every mp4
// has), 3GPP, Motion JPEG 2000, or else mp4.
func mp4Brand(brand string) string {
	switch {
	case brand == "" || brand == "qt":
		return "mov (QuickTime)"
	case strings.HasPrefix(brand, "3g"):
		return "3gp"
	case brand == "mjp2" || brand == "mj2s":
		return "mj2 (Motion JPEG 2000)"
	}
	return "mp4"
}

// imageBrand names the still-image formats that the mov demuxer reads
// (ISO base media files), "" for anything else.
func imageBrand(brand string) string {
	switch brand {
	case "avif", "avis":
		return "AVIF"
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
		return "HEIF (HEIC)"
	}
	return ""
}

// formatLabels name ffmpeg's demuxers for clients.
var formatLabels = map[string]string{
	"mov,mp4,m4a,3gp,3g2,mj2": "mp4 or mov",
	"matroska,webm":           "matroska (mkv or webm)",
	"avi":                     "avi",
	"flv":                     "flv",
	"mpegts":                  "MPEG-TS",
	"mpeg":                    "MPEG-PS (mpg)",
	"asf":                     "asf (wmv)",
	"ogg":                     "ogg",
	"ivf":                     "ivf",
	"h264":                    "a raw H.264 stream",
	"hevc":                    "a raw HEVC stream",
	"m4v":                     "a raw MPEG-4 stream",
	"hls":                     "an HLS playlist",
	"concat":                  "a concat list",
	"tty":                     "a text file",
}

// formatLabel names the demuxer format for a client.
func formatLabel(format string) string {
	if l, ok := formatLabels[format]; ok {
		return l
	}
	if name, ok := strings.CutSuffix(format, "_pipe"); ok {
		return name
	}
	if format == "" {
		return "unknown"
	}
	return format
}

// codecLabels name ffmpeg's codecs for clients.
var codecLabels = map[string]string{
	"h264": "H.264", "hevc": "HEVC (H.265)", "mpeg4": "MPEG-4 Part 2", "msmpeg4v3": "MS MPEG-4",
	"mpeg2video": "MPEG-2", "mpeg1video": "MPEG-1", "vp8": "VP8", "vp9": "VP9", "av1": "AV1",
	"prores": "ProRes", "mjpeg": "Motion JPEG", "theora": "Theora", "wmv2": "WMV 8", "wmv3": "WMV 9",
	"vc1": "VC-1", "flv1": "Sorenson H.263", "h263": "H.263", "dnxhd": "DNxHD", "rawvideo": "uncompressed",
	"aac": "AAC", "mp3": "MP3", "mp2": "MP2", "ac3": "AC-3", "eac3": "E-AC-3", "opus": "Opus",
	"vorbis": "Vorbis", "flac": "FLAC", "alac": "ALAC", "wmav2": "WMA", "amr_nb": "AMR", "amr_wb": "AMR-WB",
	"bmp": "BMP", "tiff": "TIFF", "gif": "GIF", "svg": "SVG", "jpeg2000": "JPEG 2000", "jpegls": "JPEG-LS",
	"psd": "Photoshop (PSD)", "qoi": "QOI", "ppm": "PPM", "pgm": "PGM", "pam": "PAM",
}

// codecLabel names a codec for a client.
func codecLabel(codec string) string {
	if l, ok := codecLabels[codec]; ok {
		return l
	}
	if strings.HasPrefix(codec, "pcm_") {
		return "PCM"
	}
	if codec == "" {
		return "an unknown codec's"
	}
	return codec
}

// duration returns the container's duration, else the picture stream's;
// known is false when neither states one ("N/A" or absent).
func duration(format, stream string) (d float64, known bool) {
	for _, s := range []string{format, stream} {
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return max(f, 0), true
		}
	}
	return 0, false
}

// displaySize returns the size a browser shows s at: the sample aspect
// ratio widens (or heightens) the picture, as browsers do, and a quarter
// turn swaps the sides. An aspect ratio beyond 10:1 either way is taken
// for junk and ignored.
func displaySize(s *mediaStream) (int, int) {
	w, h := s.Width, s.Height
	if num, den, ok := strings.Cut(s.SampleAspectRatio, ":"); ok {
		n, err1 := strconv.Atoi(num)
		d, err2 := strconv.Atoi(den)
		if err1 == nil && err2 == nil && n > 0 && d > 0 {
			sar := float64(n) / float64(d)
			switch {
			case sar > 1 && sar <= 10:
				w = int(math.Round(float64(w) * sar))
			case sar < 1 && sar >= 0.1:
				h = int(math.Round(float64(h) / sar))
			}
		}
	}
	if r := rotation(&s.probeStream); r == 90 || r == 270 {
		w, h = h, w
	}
	return w, h
}

// formatNotAllowed returns the demuxer that ffprobe found but
// -format_whitelist refused, from "[hls @ 0x55] [error] Format not on
// whitelist 'mov,...'", or "".
func formatNotAllowed(stderr []byte) string {
	var name string
	forEachLine(bytes.NewReader(stderr), func(line []byte) {
		component, _, msg := parseLogLine(string(line))
		if name == "" && strings.HasPrefix(msg, "Format not on whitelist") {
			name = component
		}
	})
	return name
}

// oversizeRE matches a decoder's refusal of a picture over -max_pixels,
// or over what ffmpeg allocates at all.
var oversizeRE = regexp.MustCompile(`Picture size (\d+)x(\d+) (?:exceeds specified max pixel count|is invalid)`)

// oversize returns "WxH" from the error of a decoder that refused a
// picture too large for ProbeMedia's limits, or "".
func oversize(stderr []byte) string {
	for _, m := range oversizeRE.FindAllSubmatch(stderr, -1) {
		w, err1 := strconv.ParseInt(string(m[1]), 10, 64)
		h, err2 := strconv.ParseInt(string(m[2]), 10, 64)
		if err1 == nil && err2 == nil && (w > MaxImageSide || h > MaxImageSide || w*h > MaxImageSide*MaxImageSide) {
			return fmt.Sprintf("%dx%d", w, h)
		}
	}
	return ""
}

// notPlayable refuses media that browsers do not play.
func notPlayable(found, advice string) error {
	return refuse("not playable in browsers: " + found + "; " + advice)
}

// refuse returns the EUnprocessable error that ProbeMedia and Thumbnails
// refuse a stimulus with; msg is the client's.
func refuse(msg string) *facet.Error {
	return &facet.Error{Code: facet.EUnprocessable, Message: msg}
}

func refusef(format string, args ...any) *facet.Error {
	return refuse(fmt.Sprintf(format, args...))
}

// refuseWith is refusef keeping cause for the logs.
func refuseWith(cause error, format string, args ...any) *facet.Error {
	e := refusef(format, args...)
	e.Err = cause
	return e
}

// inParens returns " (detail)", or "" for no detail.
func inParens(detail string) string {
	if detail == "" {
		return ""
	}
	return " (" + detail + ")"
}

// Bounds of Thumbnails.
const (
	MaxThumbnails     = 20
	MinThumbnailWidth = 16
	MaxThumbnailWidth = 640
	// maxThumbnailBytes bounds what is read of one JPEG: at most 640
	// pixels wide and 4 times as high at -q:v 5 is far below it.
	maxThumbnailBytes = 1 << 20
)

// thumbnailDemuxers force, for each accepted container, the demuxer that
// ProbeMedia saw, so that nothing else is guessed from the content.
var thumbnailDemuxers = map[string]string{
	"mp4": "mov", "webm": "matroska",
	"jpeg": "jpeg_pipe", "png": "png_pipe", "webp": "webp_pipe",
}

// ThumbnailTimes returns the times, in seconds, of Thumbnails' frames of
// m: (i+0.5)*d/n for i < n, the middles of n equal parts of the duration
// d, so that neither the often black first frame nor the last is taken.
// An image, or a video of unknown duration, has one, at 0.
func ThumbnailTimes(m Media, n int) []float64 {
	if m.Kind != "video" || m.DurationS <= 0 || n < 1 {
		return []float64{0}
	}
	times := make([]float64, n)
	for i := range times {
		times[i] = (float64(i) + 0.5) * m.DurationS / float64(n)
	}
	return times
}

// thumbnailSize returns the size of m's thumbnails width wide: the
// display aspect ratio kept, both sides even (as 4:2:0 JPEG wants), and
// the height at most 4 widths, a very tall picture being made narrower
// instead. It returns width, 0 when m's size is unknown: ffmpeg then
// computes the height (scale's -2).
func thumbnailSize(m Media, width int) (int, int) {
	width &^= 1
	if m.Width <= 0 || m.Height <= 0 {
		return width, 0
	}
	even := func(x float64) int { return max(2, 2*int(math.Round(x/2))) }
	h := even(float64(width) * float64(m.Height) / float64(m.Width))
	if maxH := 4 * width; h > maxH {
		return even(float64(maxH) * float64(m.Width) / float64(m.Height)), maxH
	}
	return width, h
}

// ThumbnailArgs returns ffmpeg's argv (without the program name) for the
// one JPEG thumbnail of the local file input at time at (seconds from
// the start; ignored for an image), width pixels wide, on stdout.
//
// Each thumbnail is its own ffmpeg run: -ss before -i seeks to the key
// frame before at and decodes from there, so a thumbnail costs at most
// one group of pictures and one decoder's memory, whatever the length of
// the video. One run with an input per thumbnail keeps every decoder
// until the end (about 30 MB each for 1080p H.264, 300 MB for ten);
// one run decoding the whole video and selecting frames takes time in
// proportion to the length (21 s for a minute of 1080p on two cores,
// against 9 s for ten seeks with a key frame every 10 s).
func ThumbnailArgs(input string, m Media, at float64, width int) []string {
	w, h := thumbnailSize(m, width)
	hs := strconv.Itoa(h)
	if h == 0 {
		hs = "-2"
	}
	args := []string{
		"-hide_banner", "-nostdin", "-nostats",
		"-loglevel", "level+error",
		"-protocol_whitelist", "file",
	}
	if m.Kind == "video" {
		args = append(args, "-ss", strconv.FormatFloat(max(at, 0), 'f', 3, 64))
	}
	if f := thumbnailDemuxers[m.Container]; f != "" {
		args = append(args, "-f", f)
	}
	return append(args,
		"-i", "file:"+input,
		// V, not v: the picture, not cover art.
		"-map", "0:V:0",
		"-frames:v", "1",
		// yuvj420p: full-range 4:2:0, what every JPEG decoder reads
		// and the smallest.
		"-vf", "scale="+strconv.Itoa(w)+":"+hs+":flags=bicubic,setsar=1,format=yuvj420p",
		"-q:v", "5",
		"-f", "image2pipe", "-c:v", "mjpeg",
		"pipe:1",
	)
}

// Thumbnails returns JPEG thumbnails of the stimulus m (as ProbeMedia
// described it) in the local file input, width pixels wide (even, within
// MinThumbnailWidth and MaxThumbnailWidth; odd is rounded down): n
// frames (1 to MaxThumbnails) at ThumbnailTimes for a video, one for an
// image. ffmpeg (program path bin, "" = "ffmpeg") runs once per frame,
// one at a time, and only the JPEG in hand is held. A time past the last
// frame of the video track (which may end before the container's
// duration, the audio going on) yields nothing, so a video can have
// fewer than n thumbnails.
//
// A file that cannot be decoded is a *facet.Error EUnprocessable, as in
// ProbeMedia; n or width out of range is EInvalid; a cancelled ctx kills
// ffmpeg and returns ctx's error.
func Thumbnails(ctx context.Context, bin, input string, m Media, n, width int) ([][]byte, error) {
	if n < 1 || n > MaxThumbnails {
		return nil, facet.Errorf(facet.EInvalid, "ffmpeg: thumbnails: %d thumbnails, want 1 to %d", n, MaxThumbnails)
	}
	if width < MinThumbnailWidth || width > MaxThumbnailWidth {
		return nil, facet.Errorf(facet.EInvalid, "ffmpeg: thumbnails: width %d, want %d to %d", width, MinThumbnailWidth, MaxThumbnailWidth)
	}
	if m.Kind != "video" && m.Kind != "image" {
		return nil, fmt.Errorf("ffmpeg: thumbnails: media of kind %q", m.Kind)
	}
	if bin == "" {
		bin = "ffmpeg"
	}
	var thumbs [][]byte
	for _, at := range ThumbnailTimes(m, n) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("ffmpeg: thumbnails: %w", err)
		}
		jpg, err := thumbnail(ctx, bin, input, ThumbnailArgs(input, m, at, width))
		if err != nil {
			var fe *facet.Error
			if errors.As(err, &fe) && m.Kind == "video" {
				fe.Message = fmt.Sprintf("the video could not be decoded at %.1f s%s", at, inParens(fe.Message))
			} else if errors.As(err, &fe) {
				fe.Message = "the image could not be decoded" + inParens(fe.Message)
			}
			return nil, fmt.Errorf("ffmpeg: thumbnail at %.3f s: %w", at, err)
		}
		if jpg != nil {
			thumbs = append(thumbs, jpg)
		}
	}
	if len(thumbs) == 0 {
		return nil, refuse("no picture could be decoded for a thumbnail")
	}
	return thumbs, nil
}

// thumbnail runs ffmpeg with args and returns the JPEG it writes, nil if
// it writes nothing (no frame at that time). An EUnprocessable error's
// message is ffmpeg's reason, for Thumbnails to frame.
func thumbnail(ctx context.Context, bin, input string, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	stderr := &headBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	jpg, readErr := io.ReadAll(io.LimitReader(stdout, maxThumbnailBytes+1))
	if readErr != nil || len(jpg) > maxThumbnailBytes {
		// ffmpeg may be blocked writing the rest: stop it before
		// waiting for it.
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tail := logTail{input: "file:" + input}
	forEachLine(bytes.NewReader(stderr.buf), tail.add)
	var exit *exec.ExitError
	switch {
	case readErr != nil:
		return nil, readErr
	case len(jpg) > maxThumbnailBytes:
		return nil, fmt.Errorf("a thumbnail of more than %d bytes", maxThumbnailBytes)
	case errors.As(waitErr, &exit):
		return nil, &facet.Error{
			Code:    facet.EUnprocessable,
			Message: tail.message(),
			Err:     fmt.Errorf("%s: %w", bin, waitErr),
		}
	case waitErr != nil:
		return nil, waitErr
	case len(jpg) == 0:
		return nil, nil
	case !bytes.HasPrefix(jpg, []byte{0xff, 0xd8}) || !bytes.HasSuffix(jpg, []byte{0xff, 0xd9}):
		return nil, fmt.Errorf("ffmpeg wrote %d bytes that are not a JPEG", len(jpg))
	}
	return jpg, nil
}
