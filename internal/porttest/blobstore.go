package porttest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/humaninsight/facet"
)

// BlobStore checks that s keeps the facet.BlobStore contract, including
// what a participant's browser can and cannot do with a signed URL. client
// sends those requests as plain HTTP, with no SDK and no credential, so it
// must reach the URLs s signs (for an emulator behind a made-up host name,
// a client that dials it). Every subtest works on fresh random names under
// one random prefix, so the suite can share a container with other runs.
// To cover paging, build s so that List reads pages far smaller than the
// suite's 30 blobs.
//
// What a create ("c") URL may do, and why SASCreate is "c" alone:
//
//   - A single Put Blob (PUT with x-ms-blob-type: BlockBlob) creates the
//     blob; a second one through the same URL is refused (403 in Azure:
//     UnauthorizedBlobOverwrite; 403 in Azurite), so a link can never
//     overwrite a recording. Reading and deleting are refused.
//   - Put Block and Put Block List: Azure accepts "c" for them since REST
//     version 2026-04-06 ("The create (c) SAS permission can now be used
//     with Put Block from URL, Put Block List, and Put Block"), and azblob
//     v1.8.3 signs with sv=2026-12-06. Before that version they needed "w",
//     and "w" also allows overwriting, which is why the port grants "c".
//   - Azurite 3.37.0 predates the change: it requires "w" for Put Block and
//     Put Block List (OperationBlobSASPermission: BlockBlob_StageBlock and
//     BlockBlob_CommitBlockList map to Write). The block subtest notices
//     Azurite's refusal, logs it, and checks the same requests through a
//     "cw" URL instead, so the request shapes a browser sends stay tested.
//     Once Azurite accepts "c", the subtest checks "c" there too.
func BlobStore(t *testing.T, s facet.BlobStore, client *http.Client) {
	prefix := "porttest-" + blobRandHex(t, 6) + "/"
	b := &blobSuite{s: s, client: client, prefix: prefix}

	t.Run("RoundTrip", b.roundTrip)
	t.Run("Missing", b.missing)
	t.Run("Delete", b.delete)
	t.Run("List", b.list)
	t.Run("CreateURL", b.createURL)
	t.Run("CreateURLBlocks", b.createURLBlocks)
	t.Run("CreateURLOtherBlob", b.createURLOtherBlob)
	t.Run("ReadURL", b.readURL)
	t.Run("Expired", b.expired)
	t.Run("Tampered", b.tampered)
}

type blobSuite struct {
	s      facet.BlobStore
	client *http.Client
	prefix string
}

// name returns a fresh blob name laid out as the app lays out uploads.
func (b *blobSuite) name(t *testing.T) string {
	return b.prefix + "uploads/" + blobRandHex(t, 4) + "/" + blobRandHex(t, 8)
}

func (b *blobSuite) roundTrip(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 1 << 10},
		{"several-megabytes", 5<<20/2 + 17}, // more than one block for chunking uploaders
		{"with space ü", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := b.prefix + "roundtrip/" + tc.name
			data := blobRandBytes(t, tc.size)
			info, err := b.s.Upload(ctx, name, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Upload: %v", err)
			}
			if info.Name != name || info.Size != int64(tc.size) || info.ETag == "" {
				t.Errorf("Upload = %+v, want name %q, size %d and an ETag", info, name, tc.size)
			}
			st, err := b.s.Stat(ctx, name)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if st.Name != name || st.Size != int64(tc.size) || st.ETag != info.ETag || st.LastModified.IsZero() {
				t.Errorf("Stat = %+v, want name %q, size %d, ETag %q and a time", st, name, tc.size, info.ETag)
			}
			if got := b.download(t, name); !bytes.Equal(got, data) {
				t.Errorf("Download returned %d bytes, want the %d uploaded", len(got), len(data))
			}
		})
	}

	t.Run("Replace", func(t *testing.T) {
		name := b.name(t)
		first := b.upload(t, name, blobRandBytes(t, 10))
		data := blobRandBytes(t, 20)
		second, err := b.s.Upload(ctx, name, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("second Upload: %v", err)
		}
		if second.ETag == first.ETag {
			t.Errorf("ETag %q did not change when the blob was replaced", second.ETag)
		}
		if got := b.download(t, name); !bytes.Equal(got, data) {
			t.Errorf("Download after replace = %d bytes, want the 20 uploaded last", len(got))
		}
	})
}

func (b *blobSuite) missing(t *testing.T) {
	ctx := t.Context()
	name := b.name(t)
	if _, err := b.s.Stat(ctx, name); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("Stat of a missing blob: %v, want code %s", err, facet.ENotFound)
	}
	var buf bytes.Buffer
	if err := b.s.Download(ctx, name, &buf); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("Download of a missing blob: %v, want code %s", err, facet.ENotFound)
	}
	if buf.Len() != 0 {
		t.Errorf("Download of a missing blob wrote %d bytes", buf.Len())
	}
}

func (b *blobSuite) delete(t *testing.T) {
	ctx := t.Context()
	name := b.name(t)
	b.upload(t, name, []byte("gone soon"))
	for i := range 2 {
		if err := b.s.Delete(ctx, name); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	b.wantMissing(t, name)
	if err := b.s.Delete(ctx, b.name(t)); err != nil {
		t.Errorf("Delete of a blob that never existed: %v", err)
	}
}

func (b *blobSuite) list(t *testing.T) {
	ctx := t.Context()
	dir := b.prefix + "list/"
	want := map[string]int64{}
	for i := range 30 {
		name := fmt.Sprintf("%s%02d-%s", dir, i, blobRandHex(t, 3))
		size := int64(i)
		b.upload(t, name, blobRandBytes(t, i))
		want[name] = size
	}
	// Siblings that share the prefix as a string but not as a directory.
	b.upload(t, b.prefix+"listing", []byte("x"))
	b.upload(t, b.prefix+"lis", []byte("x"))

	got := map[string]int64{}
	err := b.s.List(ctx, dir, func(info facet.BlobInfo) error {
		if _, dup := got[info.Name]; dup {
			t.Errorf("List returned %q twice", info.Name)
		}
		if info.ETag == "" || info.LastModified.IsZero() {
			t.Errorf("List returned %+v without ETag or time", info)
		}
		got[info.Name] = info.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("List returned %d blobs, want %d", len(got), len(want))
	}
	for name, size := range want {
		if g, ok := got[name]; !ok || g != size {
			t.Errorf("List: %q has size %d (listed %v), want %d", name, g, ok, size)
		}
	}

	errStop := errors.New("stop here")
	calls := 0
	err = b.s.List(ctx, dir, func(facet.BlobInfo) error {
		calls++
		if calls == 3 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 3 {
		t.Errorf("List with fn failing on the 3rd blob: err %v after %d calls, want %v after 3", err, calls, errStop)
	}

	err = b.s.List(ctx, b.prefix+"nothing-here/", func(info facet.BlobInfo) error {
		t.Errorf("List of an empty prefix returned %q", info.Name)
		return nil
	})
	if err != nil {
		t.Errorf("List of an empty prefix: %v", err)
	}
}

// createURL checks the participant's path: one PUT, nothing else.
func (b *blobSuite) createURL(t *testing.T) {
	name := b.name(t)
	u := b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute))

	if st := b.do(t, "GET", u, nil, nil).status; st != http.StatusForbidden {
		t.Errorf("GET through a create URL before upload = %d, want 403", st)
	}
	data := blobRandBytes(t, 3000)
	if r := b.putBlob(t, u, data); r.status != http.StatusCreated {
		t.Fatalf("PUT through a create URL = %d %s, want 201", r.status, r.code)
	}
	if info := b.stat(t, name); info.Size != int64(len(data)) {
		t.Errorf("Stat after PUT: size %d, want %d", info.Size, len(data))
	}
	if r := b.putBlob(t, u, []byte("overwritten")); !blobRefusedOverwrite(r.status) {
		t.Errorf("second PUT through the same create URL = %d %s, want 403 or 409", r.status, r.code)
	}
	if st := b.do(t, "GET", u, nil, nil).status; st != http.StatusForbidden {
		t.Errorf("GET through a create URL = %d, want 403", st)
	}
	if st := b.do(t, "DELETE", u, nil, nil).status; st != http.StatusForbidden {
		t.Errorf("DELETE through a create URL = %d, want 403", st)
	}
	if got := b.download(t, name); !bytes.Equal(got, data) {
		t.Errorf("blob changed after refused requests: %d bytes, want the %d first uploaded", len(got), len(data))
	}
}

// createURLBlocks checks a chunked upload (Put Block, Put Block List), as
// a browser uploader does for large or resumable files.
func (b *blobSuite) createURLBlocks(t *testing.T) {
	name := b.name(t)
	u := b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute))
	parts := [][]byte{blobRandBytes(t, 1500), blobRandBytes(t, 700), blobRandBytes(t, 1)}

	r := b.putBlock(t, u, 0, parts[0])
	if r.status == http.StatusForbidden && strings.HasPrefix(r.server, "Azurite") {
		// See the comment on BlobStore: Azurite predates "c" for blocks.
		t.Logf("%s refuses Put Block through a %q URL (%s); checking blocks through a \"cw\" URL instead",
			r.server, facet.SASCreate, r.code)
		u = b.sign(t, name, "cw", time.Now().Add(10*time.Minute))
		r = b.putBlock(t, u, 0, parts[0])
	}
	if r.status != http.StatusCreated {
		t.Fatalf("Put Block #0 = %d %s, want 201", r.status, r.code)
	}
	if _, err := b.s.Stat(t.Context(), name); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("Stat with only an uncommitted block: %v, want %s", err, facet.ENotFound)
	}
	for i, p := range parts[1:] {
		if r := b.putBlock(t, u, i+1, p); r.status != http.StatusCreated {
			t.Fatalf("Put Block #%d = %d %s, want 201", i+1, r.status, r.code)
		}
	}
	if r := b.putBlockList(t, u, 0, 1, 2); r.status != http.StatusCreated {
		t.Fatalf("Put Block List = %d %s, want 201", r.status, r.code)
	}
	want := bytes.Join(parts, nil)
	if got := b.download(t, name); !bytes.Equal(got, want) {
		t.Errorf("blob from blocks: %d bytes, want %d", len(got), len(want))
	}

	if strings.Contains(blobPerm(u), "w") {
		return // the Azurite fallback may overwrite; nothing more to check
	}
	b.putBlock(t, u, 3, []byte("late")) // staging alone changes nothing
	if r := b.putBlockList(t, u, 3); !blobRefusedOverwrite(r.status) {
		t.Errorf("Put Block List over a committed blob through a create URL = %d %s, want 403 or 409", r.status, r.code)
	}
	if got := b.download(t, name); !bytes.Equal(got, want) {
		t.Errorf("blob changed after a refused Put Block List: %d bytes, want %d", len(got), len(want))
	}
}

// createURLOtherBlob edits the blob name in a create URL: the signature
// covers the name, so the URL must not create any other blob.
func (b *blobSuite) createURLOtherBlob(t *testing.T) {
	name := b.name(t)
	other := path.Dir(name) + "/" + blobRandHex(t, 8)
	u, err := url.Parse(b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = path.Dir(u.Path) + "/" + path.Base(other)
	u.RawPath = ""
	if r := b.putBlob(t, u.String(), []byte("intruder")); r.status != http.StatusForbidden {
		t.Errorf("PUT to another blob's path with a create URL = %d %s, want 403", r.status, r.code)
	}
	if r := b.putBlock(t, u.String(), 0, []byte("intruder")); r.status != http.StatusForbidden {
		t.Errorf("Put Block to another blob's path with a create URL = %d %s, want 403", r.status, r.code)
	}
	b.wantMissing(t, other)
	b.wantMissing(t, name)
}

func (b *blobSuite) readURL(t *testing.T) {
	name := b.name(t)
	data := blobRandBytes(t, 2048)
	b.upload(t, name, data)
	u := b.sign(t, name, facet.SASRead, time.Now().Add(10*time.Minute))

	r := b.do(t, "GET", u, nil, nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
		t.Errorf("GET through a read URL = %d with %d bytes, want 200 with %d", r.status, len(r.body), len(data))
	}
	if r := b.putBlob(t, u, []byte("overwritten")); r.status != http.StatusForbidden {
		t.Errorf("PUT through a read URL = %d %s, want 403", r.status, r.code)
	}
	if r := b.putBlock(t, u, 0, []byte("overwritten")); r.status != http.StatusForbidden {
		t.Errorf("Put Block through a read URL = %d %s, want 403", r.status, r.code)
	}
	if st := b.do(t, "DELETE", u, nil, nil).status; st != http.StatusForbidden {
		t.Errorf("DELETE through a read URL = %d, want 403", st)
	}
	if got := b.download(t, name); !bytes.Equal(got, data) {
		t.Errorf("blob changed after refused requests")
	}
}

// expired signs URLs whose expiry has passed; stores accept that, since
// only the service checks time, and refuse the requests.
func (b *blobSuite) expired(t *testing.T) {
	past := time.Now().Add(-time.Minute)
	name := b.name(t)
	if r := b.putBlob(t, b.sign(t, name, facet.SASCreate, past), []byte("late")); r.status != http.StatusForbidden {
		t.Errorf("PUT through an expired create URL = %d %s, want 403", r.status, r.code)
	}
	b.wantMissing(t, name)

	name = b.name(t)
	b.upload(t, name, []byte("old"))
	if r := b.do(t, "GET", b.sign(t, name, facet.SASRead, past), nil, nil); r.status != http.StatusForbidden {
		t.Errorf("GET through an expired read URL = %d %s, want 403", r.status, r.code)
	}
}

// tampered raises the permission of a read URL by hand.
func (b *blobSuite) tampered(t *testing.T) {
	name := b.name(t)
	b.upload(t, name, []byte("original"))
	u, err := url.Parse(b.sign(t, name, facet.SASRead, time.Now().Add(10*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("sp") == "" {
		t.Skip("signed URL has no sp parameter to tamper with")
	}
	q.Set("sp", "rcw")
	u.RawQuery = q.Encode()
	if r := b.putBlob(t, u.String(), []byte("tampered")); r.status != http.StatusForbidden {
		t.Errorf("PUT through a read URL with sp edited to rcw = %d %s, want 403", r.status, r.code)
	}
	if got := b.download(t, name); string(got) != "original" {
		t.Errorf("blob = %q after a tampered PUT, want %q", got, "original")
	}
}

func (b *blobSuite) sign(t *testing.T, name, perm string, expiry time.Time) string {
	t.Helper()
	u, err := b.s.SignedURL(t.Context(), name, perm, expiry)
	if err != nil {
		t.Fatalf("SignedURL(%q, %q): %v", name, perm, err)
	}
	return u
}

func (b *blobSuite) upload(t *testing.T, name string, data []byte) facet.BlobInfo {
	t.Helper()
	info, err := b.s.Upload(t.Context(), name, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Upload(%q): %v", name, err)
	}
	return info
}

func (b *blobSuite) stat(t *testing.T, name string) facet.BlobInfo {
	t.Helper()
	info, err := b.s.Stat(t.Context(), name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	return info
}

func (b *blobSuite) download(t *testing.T, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.s.Download(t.Context(), name, &buf); err != nil {
		t.Fatalf("Download(%q): %v", name, err)
	}
	return buf.Bytes()
}

func (b *blobSuite) wantMissing(t *testing.T, name string) {
	t.Helper()
	if _, err := b.s.Stat(t.Context(), name); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("Stat(%q) = %v, want %s", name, err, facet.ENotFound)
	}
}

// blobResponse is what the suite needs from an HTTP answer.
type blobResponse struct {
	status int
	code   string // x-ms-error-code
	server string
	body   []byte
}

func (b *blobSuite) do(t *testing.T, method, u string, header http.Header, body []byte) blobResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return blobResponse{resp.StatusCode, resp.Header.Get("x-ms-error-code"), resp.Header.Get("Server"), data}
}

// putBlob sends what a browser's fetch(url, {method: "PUT"}) sends, plus
// the one header Put Blob requires.
func (b *blobSuite) putBlob(t *testing.T, u string, data []byte) blobResponse {
	t.Helper()
	h := http.Header{"X-Ms-Blob-Type": {"BlockBlob"}, "Content-Type": {"video/webm"}}
	return b.do(t, "PUT", u, h, data)
}

func (b *blobSuite) putBlock(t *testing.T, u string, i int, data []byte) blobResponse {
	t.Helper()
	return b.do(t, "PUT", u+"&comp=block&blockid="+url.QueryEscape(blobBlockID(i)), nil, data)
}

func (b *blobSuite) putBlockList(t *testing.T, u string, ids ...int) blobResponse {
	t.Helper()
	var xml strings.Builder
	xml.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for _, i := range ids {
		fmt.Fprintf(&xml, "<Latest>%s</Latest>", blobBlockID(i))
	}
	xml.WriteString("</BlockList>")
	h := http.Header{"Content-Type": {"application/xml"}, "X-Ms-Blob-Content-Type": {"video/webm"}}
	return b.do(t, "PUT", u+"&comp=blocklist", h, []byte(xml.String()))
}

// blobBlockID returns the i-th block id; ids of one blob must have equal
// lengths, hence the fixed width.
func blobBlockID(i int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "block-%06d", i))
}

// blobRefusedOverwrite accepts Azure's answer to an overwrite through a
// create-only SAS (403 UnauthorizedBlobOverwrite) and the conditional-write
// answer (409 BlobAlreadyExists); a browser treats both as "already uploaded".
func blobRefusedOverwrite(status int) bool {
	return status == http.StatusForbidden || status == http.StatusConflict
}

func blobPerm(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return pu.Query().Get("sp")
}

func blobRandBytes(t *testing.T, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func blobRandHex(t *testing.T, n int) string {
	t.Helper()
	return hex.EncodeToString(blobRandBytes(t, n))
}
