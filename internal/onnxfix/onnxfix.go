// Package onnxfix rewrites the bytes of an ONNX model so that ONNX Runtime
// runs it at full speed: it drops graph inputs that shadow initializers and
// flushes denormal float32 weights to zero.
//
// It walks the protobuf wire format directly instead of depending on the
// full ONNX schema. Every field it does not change is copied byte for byte,
// unknown fields and field order included, so the rewrite cannot lose
// anything a newer ONNX version added.
package onnxfix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx.proto, limited to those the rewrite needs.
const (
	modelIRVersion = 1
	modelGraph     = 7

	graphInitializer       = 5
	graphInput             = 11
	graphSparseInitializer = 15

	valueInfoName = 1

	sparseValues = 1

	tensorDataType  = 2
	tensorFloatData = 4
	tensorName      = 8
	tensorRawData   = 9

	dataTypeFloat = 1
)

// Before IR version 4 ONNX required every initializer to be listed as a
// graph input and ONNX Runtime treats such inputs as constants anyway, so
// dropping them there would only make the model invalid.
const minIRVersionForDrop = 4

// Stats says what Fix changed.
type Stats struct {
	// InputsDropped counts main-graph inputs removed because an
	// initializer has the same name.
	InputsDropped int
	// DenormalsFlushed counts float32 values replaced by a signed zero.
	DenormalsFlushed int
	// Initializers counts the main graph's (dense) initializers.
	Initializers int
}

// field is one wire-format field as it appears in its message.
type field struct {
	num protowire.Number
	typ protowire.Type
	off int    // offset of raw in the message
	raw []byte // tag and value, exactly as read
	val []byte // the payload of a bytes field, nil otherwise
	u   uint64 // the value of a varint field
}

// parseFields splits a message into its fields without interpreting them.
func parseFields(b []byte) ([]field, error) {
	var fs []field
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		f := field{num: num, typ: typ, off: off, raw: b[off : off+n+m]}
		switch typ {
		case protowire.BytesType:
			f.val, _ = protowire.ConsumeBytes(b[off+n:])
		case protowire.VarintType:
			f.u, _ = protowire.ConsumeVarint(b[off+n:])
		}
		fs = append(fs, f)
		off += n + m
	}
	return fs, nil
}

// messageField checks that f, known to hold a sub-message, has the bytes
// wire type, so that a file which merely happens to parse is rejected.
func messageField(f field, what string) ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, fmt.Errorf("%s has wire type %d, want bytes", what, f.typ)
	}
	return f.val, nil
}

// graphs returns the model's fields and the indexes of its graph fields.
// Protobuf merges repeated occurrences of a message field, so there may be
// more than one.
func graphs(model []byte) ([]field, []int, error) {
	fs, err := parseFields(model)
	if err != nil {
		return nil, nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	var idx []int
	for i, f := range fs {
		if f.num != modelGraph {
			continue
		}
		if _, err := messageField(f, "graph"); err != nil {
			return nil, nil, err
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return nil, nil, errors.New("not an ONNX model: no graph")
	}
	return fs, idx, nil
}

// stringField returns the last occurrence of string field num in msg, as
// protobuf does for a repeated scalar.
func stringField(msg []byte, num protowire.Number, what string) (string, error) {
	fs, err := parseFields(msg)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	var s string
	for _, f := range fs {
		if f.num == num {
			v, err := messageField(f, what+" name")
			if err != nil {
				return "", err
			}
			s = string(v)
		}
	}
	return s, nil
}

// inputName returns the name of a graph input field (a ValueInfoProto).
func inputName(f field) (string, error) {
	vi, err := messageField(f, "input")
	if err != nil {
		return "", err
	}
	return stringField(vi, valueInfoName, "input")
}

// GraphInputs returns the names of the main graph's inputs (used by tests
// and by set-up to report).
func GraphInputs(model []byte) ([]string, error) {
	mfs, idx, err := graphs(model)
	if err != nil {
		return nil, fmt.Errorf("onnxfix: graph inputs: %w", err)
	}
	var names []string
	for _, i := range idx {
		gfs, err := parseFields(mfs[i].val)
		if err != nil {
			return nil, fmt.Errorf("onnxfix: graph inputs: graph: %w", err)
		}
		for _, f := range gfs {
			if f.num != graphInput {
				continue
			}
			name, err := inputName(f)
			if err != nil {
				return nil, fmt.Errorf("onnxfix: graph inputs: %w", err)
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// Fix returns the rewritten model bytes. Fixing a fixed model returns
// identical bytes, because fields are re-encoded only when they change.
func Fix(model []byte) ([]byte, Stats, error) {
	out, st, err := fix(model)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("onnxfix: fix: %w", err)
	}
	return out, st, nil
}

// fix is Fix with errors that do not name the package, so that FixFile can
// name the file instead.
func fix(model []byte) ([]byte, Stats, error) {
	var st Stats
	mfs, idx, err := graphs(model)
	if err != nil {
		return nil, st, err
	}
	var ir uint64
	for _, f := range mfs {
		if f.num == modelIRVersion && f.typ == protowire.VarintType {
			ir = f.u
		}
	}
	gfss := make([][]field, len(idx))
	inits := map[string]bool{}
	for k, i := range idx {
		if gfss[k], err = parseFields(mfs[i].val); err != nil {
			return nil, st, fmt.Errorf("parse graph: %w", err)
		}
		// Names come from every graph occurrence, as they merge into one.
		if err := initializerNames(gfss[k], inits); err != nil {
			return nil, st, fmt.Errorf("parse graph: %w", err)
		}
	}
	if ir < minIRVersionForDrop {
		clear(inits)
	}

	out := make([]byte, 0, len(model))
	k := 0
	for i, f := range mfs {
		if k < len(idx) && idx[k] == i {
			g, changed, err := fixGraph(gfss[k], inits, &st)
			if err != nil {
				return nil, st, fmt.Errorf("graph: %w", err)
			}
			k++
			if changed {
				out = protowire.AppendTag(out, f.num, protowire.BytesType)
				out = protowire.AppendBytes(out, g)
				continue
			}
		}
		out = append(out, f.raw...)
	}
	return out, st, nil
}

// initializerNames adds the names of the graph's dense and sparse
// initializers to names: ONNX Runtime treats a graph input shadowing
// either kind as overridable.
func initializerNames(gfs []field, names map[string]bool) error {
	for _, f := range gfs {
		var t []byte
		switch f.num {
		case graphInitializer:
			v, err := messageField(f, "initializer")
			if err != nil {
				return err
			}
			t = v
		case graphSparseInitializer:
			v, err := messageField(f, "sparse initializer")
			if err != nil {
				return err
			}
			sfs, err := parseFields(v)
			if err != nil {
				return fmt.Errorf("sparse initializer: %w", err)
			}
			for _, sf := range sfs {
				if sf.num == sparseValues {
					if t, err = messageField(sf, "sparse initializer values"); err != nil {
						return err
					}
				}
			}
		default:
			continue
		}
		name, err := stringField(t, tensorName, "initializer")
		if err != nil {
			return err
		}
		names[name] = true
	}
	return nil
}

// fixGraph re-emits a graph without the inputs named in inits and with its
// FLOAT initializers flushed. changed is false when the result would equal
// the input, so the caller can keep the original bytes.
func fixGraph(gfs []field, inits map[string]bool, st *Stats) ([]byte, bool, error) {
	var out []byte
	changed := false
	for _, f := range gfs {
		switch f.num {
		case graphInput:
			name, err := inputName(f)
			if err != nil {
				return nil, false, err
			}
			if inits[name] {
				st.InputsDropped++
				changed = true
				continue
			}
		case graphInitializer:
			st.Initializers++
			t, n, err := flushTensor(f.val)
			if err != nil {
				return nil, false, err
			}
			if n > 0 {
				st.DenormalsFlushed += n
				changed = true
				out = protowire.AppendTag(out, f.num, protowire.BytesType)
				out = protowire.AppendBytes(out, t)
				continue
			}
		}
		out = append(out, f.raw...)
	}
	return out, changed, nil
}

// flushTensor returns a copy of a TensorProto with its denormal float32
// values flushed, and how many it flushed. It leaves tensors of other types
// and externally stored data alone, and returns n == 0 and a nil tensor when
// there was nothing to flush.
func flushTensor(t []byte) ([]byte, int, error) {
	fs, err := parseFields(t)
	if err != nil {
		return nil, 0, fmt.Errorf("initializer: %w", err)
	}
	var dataType uint64
	var name string
	for _, f := range fs {
		switch {
		case f.num == tensorDataType && f.typ == protowire.VarintType:
			dataType = f.u
		case f.num == tensorName && f.typ == protowire.BytesType:
			name = string(f.val)
		}
	}
	if dataType != dataTypeFloat {
		return nil, 0, nil
	}

	// Copy on write: most tensors have no denormal, and the input must stay
	// untouched.
	var pos []int // offset in t of each float32 to flush
	for _, f := range fs {
		end := f.off + len(f.raw)
		var data []byte
		var off int
		switch {
		case (f.num == tensorRawData || f.num == tensorFloatData) && f.typ == protowire.BytesType:
			if len(f.val)%4 != 0 {
				return nil, 0, fmt.Errorf("initializer %q: field %d holds %d bytes, not whole float32s", name, f.num, len(f.val))
			}
			data = f.val
			off = end - len(f.val)
		case f.num == tensorFloatData && f.typ == protowire.Fixed32Type:
			data = f.raw[len(f.raw)-4:]
			off = end - 4
		default:
			continue
		}
		for i := 0; i < len(data); i += 4 {
			if isDenormal(binary.LittleEndian.Uint32(data[i:])) {
				pos = append(pos, off+i)
			}
		}
	}
	if len(pos) == 0 {
		return nil, 0, nil
	}
	buf := append([]byte(nil), t...)
	for _, p := range pos {
		v := binary.LittleEndian.Uint32(buf[p:])
		binary.LittleEndian.PutUint32(buf[p:], v&signBit)
	}
	return buf, len(pos), nil
}

const (
	signBit      = 0x80000000
	exponentBits = 0x7f800000
	mantissaBits = 0x007fffff
)

// isDenormal reports whether the float32 with bits v is subnormal: those
// make x86 CPUs take a microcode slow path on every multiply.
func isDenormal(v uint32) bool {
	return v&exponentBits == 0 && v&mantissaBits != 0
}

// FixFile reads src, writes the fixed model to dst atomically (temp file in
// dst's dir + rename), returns stats. A reader of dst never sees a partial
// model; src and dst may be the same file.
func FixFile(src, dst string) (Stats, error) {
	in, err := os.ReadFile(src)
	if err != nil {
		return Stats{}, fmt.Errorf("onnxfix: fix file: %w", err)
	}
	out, st, err := fix(in)
	if err != nil {
		return Stats{}, fmt.Errorf("onnxfix: fix file %s: %w", src, err)
	}
	if err := writeAtomic(dst, out); err != nil {
		return Stats{}, fmt.Errorf("onnxfix: fix file: %w", err)
	}
	return st, nil
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path, so that path holds either the old or the new content.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file private; a model is not a secret.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	// Sync before rename, or a crash can leave dst renamed but empty.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
