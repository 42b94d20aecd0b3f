package ffmpeg

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Bounds of what is kept of ffmpeg's stderr: a corrupt video can make it log
// an error per packet for hours, and memory must not grow with that.
const (
	maxLineBytes = 256 // longer lines are cut: the cause is at the start
	tailLines    = 16  // 16 x 256 B = 4 KiB at most
	detailLines  = 3   // how many lines an error message quotes
)

// forEachLine calls fn with each line of r (without the newline) until EOF.
// The slice is only valid during the call. A line longer than the reader's
// buffer is passed cut, the rest dropped, rather than stopping the reading,
// which would leave ffmpeg blocked on a full pipe.
func forEachLine(r io.Reader, fn func(line []byte)) {
	br := bufio.NewReaderSize(r, 4096)
	skip := false // in the dropped rest of an over-long line
	for {
		line, err := br.ReadSlice('\n')
		if !skip {
			if l := bytes.TrimRight(line, "\r\n"); len(l) > 0 {
				fn(l)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			skip = true
		case err != nil:
			return
		default:
			skip = false
		}
	}
}

// showinfoTime returns pts_time of a showinfo frame line, as
// "[Parsed_showinfo_3 @ 0x55d6] [info] n:   0 pts:      0 pts_time:0.2 ...".
// isShowinfo is true for every line the showinfo filter logs (its
// configuration and colour lines too), ok only for frame lines with a time.
func showinfoTime(line []byte) (t float64, isShowinfo, ok bool) {
	if !bytes.HasPrefix(line, []byte("[Parsed_showinfo_")) {
		return 0, false, false
	}
	const key = " pts_time:"
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return 0, true, false
	}
	v := line[i+len(key):]
	if j := bytes.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	t, err := strconv.ParseFloat(string(v), 64)
	if err != nil { // "NOPTS"
		return 0, true, false
	}
	return t, true, true
}

// logLevels are the severities ffmpeg prints under -loglevel level+...,
// mapped to their rank (higher is more severe).
var logLevels = map[string]int{
	"trace": 0, "debug": 1, "verbose": 2, "info": 3,
	"warning": 4, "error": 5, "fatal": 6, "panic": 7,
}

// parseLogLine splits "[h264 @ 0x55d6] [error] Invalid NAL unit size" into
// the component ("h264"), the level ("error") and the message. Component
// and level are each optional.
func parseLogLine(line string) (component, level, msg string) {
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if head, tail, ok := strings.Cut(rest, "] "); ok {
			if name, _, ok := strings.Cut(head, " @ "); ok {
				component, line = name, tail
			}
		}
	}
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if head, tail, ok := strings.Cut(rest, "] "); ok {
			if _, known := logLevels[head]; known {
				level, line = head, tail
			}
		}
	}
	// "NULL" is a parser without a codec context: naming it helps nobody.
	if component == "NULL" {
		component = ""
	}
	return component, level, strings.TrimSpace(line)
}

// noise are warnings that say nothing about the input: ffmpeg 5.1 deprecates
// -vsync (which 4.1 needs), and the scaler grumbles about JPEG-range pixel
// formats that every MJPEG stream uses.
var noise = []string{
	"-vsync is deprecated",
	"deprecated pixel format used",
}

type logEntry struct {
	rank int
	text string
}

// logTail keeps the last tailLines warnings and errors of ffmpeg's stderr in
// a ring, to explain a failure.
type logTail struct {
	input string // replaced by "input" in what is kept
	ring  [tailLines]logEntry
	n     int // lines added so far; the newest is at (n-1) % tailLines
}

// add keeps line if it is a warning or worse (or has no level, as text that
// ffmpeg writes without av_log does); information lines are dropped.
func (l *logTail) add(line []byte) {
	s := string(line)
	// Before cutting, so that no piece of a long path survives.
	if l.input != "" {
		s = strings.ReplaceAll(s, l.input, "input")
	}
	if len(s) > maxLineBytes {
		s = s[:maxLineBytes]
	}
	component, level, msg := parseLogLine(s)
	rank, ok := logLevels[level]
	if !ok {
		rank = logLevels["warning"]
	}
	if rank < logLevels["warning"] || msg == "" {
		return
	}
	for _, s := range noise {
		if strings.Contains(msg, s) {
			return
		}
	}
	if component != "" {
		msg = component + ": " + msg
	}
	l.ring[l.n%tailLines] = logEntry{rank: rank, text: msg}
	l.n++
}

// message returns the last few distinct lines of the most severe kind seen,
// joined with "; ". The input's name has been replaced by "input": messages
// reach clients, and a server path is an internal detail.
func (l *logTail) message() string {
	first := max(0, l.n-tailLines)
	worst := -1
	for i := first; i < l.n; i++ {
		worst = max(worst, l.ring[i%tailLines].rank)
	}
	var picked []string
	for i := l.n - 1; i >= first && len(picked) < detailLines; i-- {
		e := l.ring[i%tailLines]
		if e.rank != worst {
			continue
		}
		if !slices.Contains(picked, e.text) {
			picked = append(picked, e.text)
		}
	}
	// Oldest first reads as a story: cause, then consequence.
	for i, j := 0, len(picked)-1; i < j; i, j = i+1, j-1 {
		picked[i], picked[j] = picked[j], picked[i]
	}
	return strings.Join(picked, "; ")
}

// withDetail appends detail to msg when there is one.
func withDetail(msg, detail string) string {
	if detail == "" {
		return msg
	}
	return msg + ": " + detail
}
