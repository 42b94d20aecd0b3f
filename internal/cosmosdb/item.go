package cosmosdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// decodeItem strips the system properties from an item as the service
// returned it, in one pass over its top-level members: the members kept
// are copied as they are (no decoding into a map and encoding again,
// which took a quarter of the CPU of a list request), and fields holds
// each member's raw value, sharing b's bytes.
func decodeItem(b []byte) (item, error) {
	if !json.Valid(b) {
		return item{}, errors.New("item is not a JSON object")
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return item{}, errors.New("item is not a JSON object")
	}
	it := item{fields: map[string]json.RawMessage{}}
	out := make([]byte, 0, len(b))
	out = append(out, '{')
	for i = skipSpace(b, i+1); i < len(b) && b[i] != '}'; i = skipSpace(b, i+1) {
		if b[i] == ',' {
			continue
		}
		kEnd := skipValue(b, i)
		key := string(b[i+1 : kEnd-1])
		if bytes.IndexByte(b[i:kEnd], '\\') >= 0 { // escaped: decode it
			if err := json.Unmarshal(b[i:kEnd], &key); err != nil {
				return item{}, fmt.Errorf("item key: %w", err)
			}
		}
		vStart := skipSpace(b, skipSpace(b, kEnd)+1) // past the colon
		vEnd := skipValue(b, vStart)
		raw := json.RawMessage(b[vStart:vEnd])
		it.fields[key] = raw
		switch {
		case key == "_etag":
			if err := json.Unmarshal(raw, &it.etag); err != nil {
				return item{}, fmt.Errorf("item's _etag: %w", err)
			}
		case slices.Contains(systemProps, key):
		default:
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(append(append(out, b[i:kEnd]...), ':'), raw...)
		}
		i = vEnd - 1
	}
	for _, p := range systemProps {
		delete(it.fields, p)
	}
	it.json = append(out, '}')
	return it, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i]; b is
// valid JSON (checked by the caller), so only strings and nesting matter.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipValue(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	// A number, true, false or null: up to the next delimiter.
	j := i
	for ; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return j
}
