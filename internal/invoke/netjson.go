package invoke

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The host writes requests with Newtonsoft.Json (JsonMediaTypeFormatter):
// compact, object keys in insertion order, and only quotes, backslashes,
// control characters and U+0085, U+2028, U+2029 escaped (not <, >, & as
// encoding/json does). The writer here produces the same bytes, so the stand-in
// host's requests match the real ones exactly.

// member is one key and value of an object, in order.
type member struct {
	key string
	val any // nil, string, bool, int, int64, object or rawJSON
}

// object is a JSON object whose keys keep their order.
type object []member

// set replaces the value of key, compared ignoring case as the host's
// binding-data dictionary does (keeping the first spelling), or appends it.
func (o object) set(key string, val any) object {
	for i := range o {
		if strings.EqualFold(o[i].key, key) {
			o[i].val = val
			return o
		}
	}
	return append(o, member{key, val})
}

// rawJSON is a JSON value written through in compact form, as Newtonsoft
// writes a parsed JObject back out.
type rawJSON []byte

// writeJSON appends v to b.
func writeJSON(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeString(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case rawJSON:
		return reencode(b, v)
	case object:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, m.key)
			b.WriteByte(':')
			if err := writeJSON(b, m.val); err != nil {
				return fmt.Errorf("%s: %w", m.key, err)
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("cannot write %T", v)
	}
	return nil
}

// writeString appends s as a JSON string, escaped as Newtonsoft escapes it.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\u0085', '\u2028', '\u2029':
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&0xf])
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// quote is JsonConvert.SerializeObject of a string: the host's encoding of
// every string value that is not already an object.
func quote(s string) string {
	var b bytes.Buffer
	writeString(&b, s)
	return b.String()
}

// reencode appends the single JSON value raw in compact form, keeping key
// order and rewriting strings with Newtonsoft's escaping.
func reencode(b *bytes.Buffer, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := copyValue(b, dec); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func copyValue(b *bytes.Buffer, dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		closing := map[json.Delim]byte{'{': '}', '[': ']'}[t]
		b.WriteByte(byte(t))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			if t == '{' {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				writeString(b, key.(string))
				b.WriteByte(':')
			}
			if err := copyValue(b, dec); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte(closing)
	case string:
		writeString(b, t)
	case json.Number:
		b.WriteString(t.String())
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case nil:
		b.WriteString("null")
	}
	return nil
}

// The host's date formats. Newtonsoft writes up to seven fractional digits
// (.NET ticks are 100 ns) and drops trailing zeros; the zone depends on the
// .NET type: "Z" for a UTC DateTime, "+00:00" for a DateTimeOffset or a local
// DateTime on a host whose zone is UTC (as in Azure), nothing for a DateTime
// of unspecified kind.
const netLayout = "2006-01-02T15:04:05.9999999"

func netUTC(t time.Time) string    { return t.UTC().Format(netLayout) + "Z" }
func netOffset(t time.Time) string { return t.UTC().Format(netLayout) + "+00:00" }

// netBound formats a DateTime (unspecified kind, no zone) or DateTimeOffset
// (offset true) that went through the host's DateTime.Parse(value.ToString())
// round trip, which keeps whole seconds only.
func netBound(t time.Time, offset bool) string {
	s := t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05")
	if offset {
		s += "+00:00"
	}
	return s
}
