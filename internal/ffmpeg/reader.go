package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/humaninsight/facet"
)

// Options for the frame reader.
type Options struct {
	Bin           string  // ffmpeg path, "" = "ffmpeg"
	SampleFPS     float64 // frames per second to sample; 0 = every decoded frame
	Width, Height int     // output size (use FitSize on Info's display size); rgb24
	Threads       int     // decoder threads, 0 = ffmpeg's default
	// SourceFPS is the video's frame rate as Probe found it; 0 = unknown.
	// At 2 x SampleFPS or more, sampling picks decoded frames at their own
	// times and decodes less (see Picks).
	SourceFPS float64
	// SkipFrame is the decoder's -skip_frame: which frames it may leave
	// undecoded ("none", "noref", "bidir", "nointra", "nokey"; "" = the
	// reader's choice: "noref" when Picks, else decode all). On the k/fps
	// grid, skipped frames never reach the fps filter, which fills their
	// sample times with the last frame decoded, so a sample's pixels may
	// be older than its time; the engine only skips when Picks.
	SkipFrame string
}

// Picks reports whether sampling picks, for each interval [k/fps,
// (k+1)/fps), the first frame decoded in it and reports that frame's own
// time, rather than filling the k/fps grid with the fps filter. It does
// when the source is at least twice as fast as the sampling: then the
// decoder may skip non-reference frames (no other frame needs them) and
// a sample is at most one decoded-frame gap late. Slower or unknown
// sources keep the grid, on which every interval gets a frame.
func (o Options) Picks() bool {
	return o.SampleFPS > 0 && o.SourceFPS >= 2*o.SampleFPS
}

// skipFrame is the -skip_frame value DecodeArgs passes, "" for none.
func (o Options) skipFrame() string {
	if o.SkipFrame == "" && o.Picks() {
		return "noref"
	}
	return o.SkipFrame
}

// skipFrameModes are the -skip_frame values Open accepts.
var skipFrameModes = map[string]bool{"": true, "none": true, "default": true, "noref": true, "bidir": true, "nointra": true, "nokey": true}

// DecodeArgs returns ffmpeg's argv (without the program name) for streaming
// the rgb24 rawvideo frames of input's first video stream to stdout.
//
// Raw video carries no timestamps, so the showinfo filter, last in the chain,
// logs each frame's pts_time to stderr, in the order the frames are written
// (except on the k/fps grid, where times are known: see filterChain). That
// is right for variable frame rates. Its checksums of every frame cost
// about 0.7 ms at 640x480, so they are turned off (checksum=0, in the
// shipped static 4.1 build and Debian's 5.1 alike); the alternative, a
// container with timestamps (nut, matroska) on the pipe, needs a demuxer
// in Go.
func DecodeArgs(input string, o Options) []string {
	args := []string{
		"-hide_banner", "-nostdin", "-nostats",
		// showinfo logs at info; level+ tags each line with its severity
		// so that errors can be told from chatter.
		"-loglevel", "level+info",
	}
	if o.Threads > 0 {
		args = append(args, "-threads", strconv.Itoa(o.Threads))
	}
	if skip := o.skipFrame(); skip != "" {
		args = append(args, "-skip_frame", skip)
	}
	args = append(args, "-i", input,
		// V, not v: the first video stream that is not cover art, the one
		// Probe describes.
		"-map", "0:V:0",
		"-vf", filterChain(o),
		// Every frame the filters emit, once: the cfr default would
		// duplicate or drop frames and break the showinfo pairing.
		"-vsync", "passthrough",
		"-f", "rawvideo",
		// A frame reaches the pipe as soon as it is written, rather than
		// when the next one fills the output buffer.
		"-flush_packets", "1",
		"pipe:1",
	)
	return args
}

// filterChain returns the -vf graph: sample, scale, convert, then report.
//
// On the grid (sampling without Picks), frames need no report: the fps
// filter, told that the video starts at 0, emits frame k at exactly k/fps
// (duplicating or dropping to keep the grid), so the time is known without
// asking. Otherwise showinfo reports each frame's own time, whether every
// frame is kept or select picks the first of each sample interval.
func filterChain(o Options) string {
	scale := fmt.Sprintf("scale=%d:%d:flags=bilinear,format=rgb24", o.Width, o.Height)
	rate := strconv.FormatFloat(o.SampleFPS, 'f', -1, 64)
	switch {
	case o.Picks():
		return "select='" + pickExpr(rate) + "'," + scale + ",showinfo=checksum=0"
	case o.SampleFPS > 0:
		// round=up takes, for each sample time, the frame on screen at that
		// time; it also keeps the single frame of a still image or a very
		// short clip, which the default (near) drops at end of stream.
		return "fps=fps=" + rate + ":start_time=0:round=up," + scale
	}
	return scale + ",showinfo=checksum=0"
}

// pickExpr is the select filter's expression keeping the first frame of
// each sample interval: the first frame of all, then each frame whose
// interval floor(t*rate) is past the last kept one's. Times are those
// showinfo reports, so a video whose picture starts late yields nothing
// for the intervals before it, as every-frame decoding starts late too.
// The 1e-6 absorbs rounding in t*rate (a frame at exactly k/rate must fall
// in interval k), far below any frame gap. A frame without a time (t NaN)
// is kept only if it is the first.
func pickExpr(rate string) string {
	k := func(t string) string { return "floor(" + t + "*" + rate + "+1e-6)" }
	return "isnan(prev_selected_t)+gt(" + k("t") + "," + k("prev_selected_t") + ")"
}

// gridFPS is the sampling rate when frame k is at k/rate (the fps
// filter), 0 when showinfo reports each frame's time.
func gridFPS(o Options) float64 {
	if o.Picks() {
		return 0
	}
	return o.SampleFPS
}

// timesBuffer is how many frame times the stderr reader may get ahead of the
// frames read. ffmpeg is at most a few frames ahead of its stdout (the pipe
// holds less than one frame at any useful size); the slack only avoids
// stalling it.
const timesBuffer = 64

// errClosed is what ReadFrame returns after Close.
var errClosed = errors.New("ffmpeg: read: reader closed")

// Reader streams frames from an ffmpeg child process. It is not safe for
// concurrent use, except that its context may be cancelled at any time.
// Close must be called.
type Reader struct {
	ctx       context.Context
	cmd       *exec.Cmd
	stdout    io.ReadCloser
	frameSize int
	gridFPS   float64 // > 0: frame k is at k/gridFPS, no showinfo
	// times carries each frame's pts_time from the stderr reader; it is
	// closed when stderr ends, after which tail is no longer written.
	times  chan float64
	tail   *logTail
	frames int   // frames returned so far
	err    error // once set, every later ReadFrame returns it
	waited bool  // the process has been reaped
	closed bool
	maxRSS int64
}

// Open starts ffmpeg on input (a file path or a URL) with o. Cancelling ctx
// kills ffmpeg.
func Open(ctx context.Context, input string, o Options) (*Reader, error) {
	if o.Width <= 0 || o.Height <= 0 {
		return nil, fmt.Errorf("ffmpeg: open: invalid frame size %dx%d", o.Width, o.Height)
	}
	if o.SampleFPS < 0 {
		return nil, fmt.Errorf("ffmpeg: open: invalid sample rate %g", o.SampleFPS)
	}
	if !skipFrameModes[o.SkipFrame] {
		return nil, fmt.Errorf("ffmpeg: open: invalid skip_frame %q", o.SkipFrame)
	}
	bin := o.Bin
	if bin == "" {
		bin = "ffmpeg"
	}
	cmd := exec.CommandContext(ctx, bin, DecodeArgs(input, o)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg: open: %w", err)
	}
	growPipe(stdout, o.Width*o.Height*3)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg: open: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ffmpeg: open: %w", err)
	}
	r := &Reader{
		ctx:       ctx,
		cmd:       cmd,
		stdout:    stdout,
		frameSize: o.Width * o.Height * 3,
		gridFPS:   gridFPS(o),
		times:     make(chan float64, timesBuffer),
		tail:      &logTail{input: input},
	}
	go r.readStderr(stderr)
	return r, nil
}

// readStderr sends the time of each frame line to r.times and keeps the
// warnings and errors in r.tail, until ffmpeg closes stderr.
func (r *Reader) readStderr(stderr io.Reader) {
	defer close(r.times)
	last := 0.0
	forEachLine(stderr, func(line []byte) {
		t, isShowinfo, ok := showinfoTime(line)
		switch {
		case ok:
			last = t
			r.times <- t
		case isShowinfo && frameLine(line):
			// A frame without a timestamp (NOPTS) still is a frame: it
			// must take its place in the pairing. It can only follow the
			// previous one.
			r.times <- last
		case !isShowinfo:
			r.tail.add(line)
		}
	})
}

// frameLine reports whether a showinfo line describes a frame (rather than
// the filter's configuration or a frame's side data).
func frameLine(line []byte) bool {
	return bytes.Contains(line, []byte("] n:"))
}

// FrameSize is Width*Height*3, the bytes of one rgb24 frame.
func (r *Reader) FrameSize() int { return r.frameSize }

// ReadFrame fills dst (len >= FrameSize) with the next frame and returns its
// presentation time in seconds from the start of the video. After the last
// frame it returns io.EOF. A failure of ffmpeg, or a stream that yields no
// frame at all, is a *facet.Error EUnreadable quoting ffmpeg's last errors;
// a cancelled context is ctx.Err(). Damage that ffmpeg can decode around is
// not an error: a truncated file simply ends early.
func (r *Reader) ReadFrame(dst []byte) (float64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(dst) < r.frameSize {
		return 0, fmt.Errorf("ffmpeg: read: buffer of %d bytes for a frame of %d", len(dst), r.frameSize)
	}
	if err := r.ctx.Err(); err != nil {
		r.err = r.finish(err)
		return 0, r.err
	}
	if _, err := io.ReadFull(r.stdout, dst[:r.frameSize]); err != nil {
		r.err = r.finish(err)
		return 0, r.err
	}
	if r.gridFPS > 0 {
		t := float64(r.frames) / r.gridFPS
		r.frames++
		return t, nil
	}
	// showinfo logged this frame's line before ffmpeg wrote the frame, so
	// the time is there or on its way.
	t, ok := <-r.times
	if !ok {
		r.err = r.finish(errors.New("ffmpeg: read: a frame without its showinfo line"))
		return 0, r.err
	}
	r.frames++
	return t, nil
}

// finish reaps ffmpeg after reading stopped with cause and returns the error
// ReadFrame reports from then on.
func (r *Reader) finish(cause error) error {
	if !errors.Is(cause, io.EOF) && !errors.Is(cause, io.ErrUnexpectedEOF) {
		// ffmpeg may still be running (a cancelled context, a broken
		// pipe): stop it so that stderr ends and Wait returns.
		r.kill()
	}
	waitErr := r.wait()
	if err := r.ctx.Err(); err != nil {
		return err
	}
	switch {
	case waitErr != nil:
		return r.unreadable("ffmpeg failed", waitErr)
	case errors.Is(cause, io.ErrUnexpectedEOF):
		return r.unreadable("the last frame is incomplete", cause)
	case !errors.Is(cause, io.EOF):
		return fmt.Errorf("ffmpeg: read: %w", cause)
	case r.frames == 0:
		return r.unreadable("no frame decoded", cause)
	}
	return io.EOF
}

// unreadable returns the EUnreadable error for what went wrong, quoting
// ffmpeg's last errors.
func (r *Reader) unreadable(what string, cause error) error {
	return &facet.Error{
		Code:    facet.EUnreadable,
		Message: withDetail("ffmpeg: read: video unreadable: "+what, r.tail.message()),
		Err:     cause,
	}
}

// kill stops ffmpeg; it may already have exited, which is fine.
func (r *Reader) kill() {
	_ = r.cmd.Process.Kill()
}

// wait reaps ffmpeg. It first drains the times so that the stderr reader,
// which may be blocked sending, reaches EOF: Wait closes the pipes, and
// reading from them must be over by then.
func (r *Reader) wait() error {
	for range r.times {
	}
	err := r.cmd.Wait()
	r.waited = true
	if ps := r.cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = int64(ru.Maxrss) // KiB on Linux
		}
	}
	return err
}

// Close stops ffmpeg if it is still running, waits for it and releases the
// pipes. It is safe to call more than once.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.waited {
		r.kill()
		// Its exit status is that of a killed process: not news.
		_ = r.wait()
	}
	if r.err == nil {
		r.err = errClosed
	}
	return nil
}

// MaxRSSKB returns ffmpeg's peak resident set size in KiB once it has been
// reaped (at the end of the stream or by Close), 0 before.
func (r *Reader) MaxRSSKB() int64 { return r.maxRSS }

// fSetPipeSize is Linux's F_SETPIPE_SZ fcntl command.
const fSetPipeSize = 1031

// growPipe asks the kernel for a pipe that holds a whole frame (up to the
// unprivileged limit, 1 MiB by default). With the default 64 KiB, each
// frame crosses in a dozen rounds of ffmpeg writing and the reader waking,
// and every round is a pair of context switches. Failure only costs speed.
func growPipe(p io.ReadCloser, frame int) {
	f, ok := p.(*os.File)
	if !ok {
		return
	}
	size := min(max(frame, 1<<16), 1<<20)
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, uintptr(size))
		})
	}
}
