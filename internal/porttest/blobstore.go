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
	"strconv"
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
//
// What else a create URL lets a hostile browser do, and what the store
// must report so that the app can refuse it before reading a byte:
//
//   - Put Blob with x-ms-blob-type: PageBlob, no body and
//     x-ms-blob-content-length: 536870912 creates a zero-filled 512 MiB
//     page blob; AppendBlob an empty append blob. Azure accepts both
//     through a "c" SAS, and so does Azurite 3.37.0 (PageBlob_Create and
//     AppendBlob_Create need "c" or "w"). Stat and List report Type and
//     the declared Size; a Download bounded by MaxBytes refuses it from
//     the length alone.
//   - Content-Type and x-ms-blob-content-type are stored as sent (the
//     latter wins), and a plain read SAS serves them: text/html with its
//     script. ReadURL signs rsct and rscd, which Azure and Azurite 3.37.0
//     (BlobHandler.download, getProperties) answer with instead.
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
	t.Run("HostilePageBlob", b.hostilePageBlob)
	t.Run("HostileAppendBlob", b.hostileAppendBlob)
	t.Run("BadBlobTypes", b.badBlobTypes)
	t.Run("DownloadIfMatch", b.downloadIfMatch)
	t.Run("DownloadMaxBytes", b.downloadMaxBytes)
	t.Run("ReadURLHeaders", b.readURLHeaders)
	t.Run("ReadURLTampered", b.readURLTampered)
	t.Run("ReadURLRefuses", b.readURLRefuses)
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
			if st.Name != name || st.Size != int64(tc.size) || st.ETag != info.ETag || st.LastModified.IsZero() ||
				st.Type != facet.BlockBlob || st.ContentType == "" {
				t.Errorf("Stat = %+v, want name %q, size %d, ETag %q, a time, type %s and a content type",
					st, name, tc.size, info.ETag, facet.BlockBlob)
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
	if err := b.s.Download(ctx, name, &buf, facet.DownloadOptions{}); facet.ErrorCode(err) != facet.ENotFound {
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
		if info.ETag == "" || info.LastModified.IsZero() || info.Type != facet.BlockBlob || info.ContentType == "" {
			t.Errorf("List returned %+v, want an ETag, a time, type %s and a content type", info, facet.BlockBlob)
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
	if info := b.stat(t, name); info.Size != int64(len(data)) || info.Type != facet.BlockBlob || info.ContentType != "video/webm" {
		t.Errorf("Stat after PUT = %+v, want size %d, type %s, content type video/webm", info, len(data), facet.BlockBlob)
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

// hostilePageBlob sends what a hostile browser can send through a create
// URL instead of a video: a page blob declared 512 MiB long, with no body.
// Azure and Azurite create it; the store must report it for what it is,
// and a bounded Download must refuse it from its length, before writing
// anything. Writing its pages needs "w", which a create URL lacks.
func (b *blobSuite) hostilePageBlob(t *testing.T) {
	const declared = 512 << 20
	name := b.name(t)
	u := b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute))
	h := http.Header{
		"X-Ms-Blob-Type":           {facet.PageBlob},
		"X-Ms-Blob-Content-Length": {strconv.Itoa(declared)},
		"X-Ms-Blob-Content-Type":   {"video/webm"},
	}
	if r := b.do(t, "PUT", u, h, nil); r.status != http.StatusCreated {
		t.Fatalf("PUT of a page blob through a create URL = %d %s, want 201 as in Azure", r.status, r.code)
	}
	want := facet.BlobInfo{Name: name, Size: declared, Type: facet.PageBlob, ContentType: "video/webm"}
	b.wantInfo(t, "Stat", b.stat(t, name), want)
	b.wantInfo(t, "List", b.listOne(t, name), want)
	var w blobCountingWriter
	err := b.s.Download(t.Context(), name, &w, facet.DownloadOptions{MaxBytes: 1 << 20})
	if facet.ErrorCode(err) != facet.ETooLarge || w.n != 0 {
		t.Errorf("Download of the page blob with MaxBytes 1 MiB: %v after %d bytes, want %s before any", err, w.n, facet.ETooLarge)
	}
	if r := b.putBlob(t, u, []byte("video")); !blobRefusedOverwrite(r.status) {
		t.Errorf("PUT of a block blob over the page blob through the create URL = %d %s, want 403 or 409", r.status, r.code)
	}
	page := http.Header{"X-Ms-Page-Write": {"update"}, "X-Ms-Range": {"bytes=0-511"}}
	if r := b.do(t, "PUT", u+"&comp=page", page, make([]byte, 512)); r.status != http.StatusForbidden {
		t.Errorf("Put Page through a create URL = %d %s, want 403", r.status, r.code)
	}
}

// hostileAppendBlob creates an empty append blob through a create URL,
// as Azure and Azurite allow, and tries to fill it, which needs "a" or
// "w".
func (b *blobSuite) hostileAppendBlob(t *testing.T) {
	name := b.name(t)
	u := b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute))
	if r := b.do(t, "PUT", u, http.Header{"X-Ms-Blob-Type": {facet.AppendBlob}}, nil); r.status != http.StatusCreated {
		t.Fatalf("PUT of an append blob through a create URL = %d %s, want 201 as in Azure", r.status, r.code)
	}
	b.wantInfo(t, "Stat", b.stat(t, name), facet.BlobInfo{Name: name, Type: facet.AppendBlob, ContentType: "application/octet-stream"})
	if r := b.do(t, "PUT", u+"&comp=appendblock", nil, []byte("data")); r.status != http.StatusForbidden {
		t.Errorf("Append Block through a create URL = %d %s, want 403", r.status, r.code)
	}
	if info := b.stat(t, name); info.Size != 0 {
		t.Errorf("Stat after a refused Append Block: size %d, want 0", info.Size)
	}

	// Azure refuses an append blob with a body (400); Azurite in --loose
	// mode creates it empty and drops the body. Either way no blob holds
	// the data, and nothing claims to be a block blob.
	name = b.name(t)
	u = b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute))
	r := b.do(t, "PUT", u, http.Header{"X-Ms-Blob-Type": {facet.AppendBlob}}, []byte("data"))
	switch r.status {
	case http.StatusBadRequest:
		b.wantMissing(t, name)
	case http.StatusCreated:
		if info := b.stat(t, name); info.Type != facet.AppendBlob || info.Size != 0 {
			t.Errorf("Stat after PUT of an append blob with a body = %+v, want an empty %s", info, facet.AppendBlob)
		}
	default:
		t.Errorf("PUT of an append blob with a body = %d %s, want 400 (or 201 and an empty append blob)", r.status, r.code)
	}
}

// badBlobTypes sends Put Blob requests Azure refuses with 400.
func (b *blobSuite) badBlobTypes(t *testing.T) {
	for _, tc := range []struct {
		what, typ, length string
		body              []byte
	}{
		{"a page blob of a length not a multiple of 512", facet.PageBlob, "1000", nil},
		{"a page blob without a declared length", facet.PageBlob, "", nil},
		{"a page blob with a body", facet.PageBlob, "512", make([]byte, 512)},
		{"an unknown blob type", "VideoBlob", "", []byte("data")},
	} {
		name := b.name(t)
		h := http.Header{"X-Ms-Blob-Type": {tc.typ}}
		if tc.length != "" {
			h.Set("X-Ms-Blob-Content-Length", tc.length)
		}
		u := b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute))
		if r := b.do(t, "PUT", u, h, tc.body); r.status != http.StatusBadRequest {
			t.Errorf("PUT of %s = %d %s, want 400", tc.what, r.status, r.code)
		}
		b.wantMissing(t, name)
	}
}

// downloadIfMatch pins a download to the version announced.
func (b *blobSuite) downloadIfMatch(t *testing.T) {
	ctx := t.Context()
	name := b.name(t)
	first := b.upload(t, name, []byte("first"))
	bare := strings.Trim(first.ETag, `"`)
	for _, etag := range []string{first.ETag, bare, `"` + bare + `"`} {
		var buf bytes.Buffer
		if err := b.s.Download(ctx, name, &buf, facet.DownloadOptions{IfMatch: etag}); err != nil || buf.String() != "first" {
			t.Errorf("Download with IfMatch %s (the current ETag) = %q, %v; want \"first\"", etag, buf.String(), err)
		}
	}
	b.upload(t, name, []byte("second"))
	var buf bytes.Buffer
	err := b.s.Download(ctx, name, &buf, facet.DownloadOptions{IfMatch: first.ETag})
	if facet.ErrorCode(err) != facet.EConflict || buf.Len() != 0 {
		t.Errorf("Download with IfMatch of a replaced version: %v after %d bytes, want %s before any", err, buf.Len(), facet.EConflict)
	}
	// Azurite answers 412 here, not 404; the store must still say the
	// blob is gone, which the app treats apart from a replaced video.
	if err := b.s.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	err = b.s.Download(ctx, name, &buf, facet.DownloadOptions{IfMatch: first.ETag})
	if facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("Download with IfMatch of a deleted blob: %v, want %s", err, facet.ENotFound)
	}
}

// downloadMaxBytes bounds a download by size.
func (b *blobSuite) downloadMaxBytes(t *testing.T) {
	ctx := t.Context()
	name := b.name(t)
	data := blobRandBytes(t, 10<<10)
	size := int64(len(data))
	b.upload(t, name, data)
	for _, max := range []int64{0, size, size + 1} {
		var buf bytes.Buffer
		if err := b.s.Download(ctx, name, &buf, facet.DownloadOptions{MaxBytes: max}); err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("Download with MaxBytes %d of %d bytes: %v after %d bytes, want them all", max, size, err, buf.Len())
		}
	}
	for _, max := range []int64{size - 1, 1} {
		var w blobCountingWriter
		err := b.s.Download(ctx, name, &w, facet.DownloadOptions{MaxBytes: max})
		if facet.ErrorCode(err) != facet.ETooLarge || w.n != 0 {
			t.Errorf("Download with MaxBytes %d of %d bytes: %v after %d bytes, want %s before any", max, size, err, w.n, facet.ETooLarge)
		}
	}
	var w blobCountingWriter
	if err := b.s.Download(ctx, name, &w, facet.DownloadOptions{MaxBytes: -1}); facet.ErrorCode(err) != facet.EInvalid || w.n != 0 {
		t.Errorf("Download with MaxBytes -1: %v after %d bytes, want %s", err, w.n, facet.EInvalid)
	}
	empty := b.name(t)
	b.upload(t, empty, nil)
	if err := b.s.Download(ctx, empty, &w, facet.DownloadOptions{MaxBytes: 1}); err != nil || w.n != 0 {
		t.Errorf("Download of an empty blob with MaxBytes 1: %v after %d bytes, want success", err, w.n)
	}
}

// blobReadHeaders is what the app forces on a video's read link.
var blobReadHeaders = facet.ReadHeaders{ContentType: "video/webm", ContentDisposition: `attachment; filename="recording.webm"`}

// readURLHeaders uploads an HTML page through a create URL, as a hostile
// participant could, and reads it back through a ReadURL: the forced
// headers, not the declared ones, must come back on every kind of read.
func (b *blobSuite) readURLHeaders(t *testing.T) {
	name := b.name(t)
	page := []byte(`<!doctype html><script>alert(document.domain)</script>`)
	h := http.Header{
		"X-Ms-Blob-Type":                {facet.BlockBlob},
		"Content-Type":                  {"text/html"},
		"X-Ms-Blob-Content-Type":        {"text/html"},
		"X-Ms-Blob-Content-Disposition": {"inline"},
	}
	if r := b.do(t, "PUT", b.sign(t, name, facet.SASCreate, time.Now().Add(10*time.Minute)), h, page); r.status != http.StatusCreated {
		t.Fatalf("PUT of an HTML page through a create URL = %d %s, want 201", r.status, r.code)
	}
	if info := b.stat(t, name); info.ContentType != "text/html" || info.Type != facet.BlockBlob {
		t.Errorf("Stat = %+v, want the declared content type text/html and type %s", info, facet.BlockBlob)
	}
	// A plain read SAS serves what the uploader declared: why ReadURL exists.
	if r := b.do(t, "GET", b.sign(t, name, facet.SASRead, time.Now().Add(10*time.Minute)), nil, nil); r.header.Get("Content-Type") != "text/html" {
		t.Errorf("GET through a SignedURL read link: Content-Type %q, want the declared text/html", r.header.Get("Content-Type"))
	}

	u := b.readLink(t, name, time.Now().Add(10*time.Minute), blobReadHeaders)
	for _, tc := range []struct {
		method, rng string
		status      int
		body        []byte
	}{
		{"GET", "", http.StatusOK, page},
		{"HEAD", "", http.StatusOK, nil},
		{"GET", "bytes=0-9", http.StatusPartialContent, page[:10]},
	} {
		var h http.Header
		if tc.rng != "" {
			h = http.Header{"Range": {tc.rng}}
		}
		r := b.do(t, tc.method, u, h, nil)
		ct, cd := r.header.Get("Content-Type"), r.header.Get("Content-Disposition")
		if r.status != tc.status || !bytes.Equal(r.body, tc.body) || ct != blobReadHeaders.ContentType || cd != blobReadHeaders.ContentDisposition {
			t.Errorf("%s %s through a ReadURL = %d %q, Content-Type %q, Content-Disposition %q; want %d %q with %+v",
				tc.method, tc.rng, r.status, r.body, ct, cd, tc.status, tc.body, blobReadHeaders)
		}
	}
	if r := b.putBlob(t, u, []byte("overwritten")); r.status != http.StatusForbidden {
		t.Errorf("PUT through a ReadURL = %d %s, want 403", r.status, r.code)
	}
	if st := b.do(t, "DELETE", u, nil, nil).status; st != http.StatusForbidden {
		t.Errorf("DELETE through a ReadURL = %d, want 403", st)
	}
	if got := b.download(t, name); !bytes.Equal(got, page) {
		t.Errorf("blob changed after refused requests")
	}
}

// readURLTampered edits the forced headers of a ReadURL, or adds them to
// a plain read URL: the signature covers them, so each edit is refused.
func (b *blobSuite) readURLTampered(t *testing.T) {
	name := b.name(t)
	b.upload(t, name, []byte("video"))
	exp := time.Now().Add(10 * time.Minute)
	ru := b.readLink(t, name, exp, blobReadHeaders)
	plain := b.sign(t, name, facet.SASRead, exp)
	for _, tc := range []struct {
		what, u, key, value string // value "" deletes key
	}{
		{"rsct edited to text/html", ru, "rsct", "text/html"},
		{"rscd edited to inline", ru, "rscd", "inline"},
		{"rscd removed", ru, "rscd", ""},
		{"rsct removed", ru, "rsct", ""},
		{"rsct added to a plain read URL", plain, "rsct", "text/html"},
	} {
		pu, err := url.Parse(tc.u)
		if err != nil {
			t.Fatal(err)
		}
		q := pu.Query()
		if tc.value == "" {
			q.Del(tc.key)
		} else {
			q.Set(tc.key, tc.value)
		}
		pu.RawQuery = q.Encode()
		if r := b.do(t, "GET", pu.String(), nil, nil); r.status != http.StatusForbidden {
			t.Errorf("GET through a read URL with %s = %d %s (Content-Type %q), want 403",
				tc.what, r.status, r.code, r.header.Get("Content-Type"))
		}
	}
	past := b.readLink(t, name, time.Now().Add(-time.Minute), blobReadHeaders)
	if r := b.do(t, "GET", past, nil, nil); r.status != http.StatusForbidden {
		t.Errorf("GET through an expired ReadURL = %d %s, want 403", r.status, r.code)
	}
}

// readURLRefuses checks ReadURL's arguments: both headers are required.
func (b *blobSuite) readURLRefuses(t *testing.T) {
	exp := time.Now().Add(10 * time.Minute)
	for _, tc := range []struct {
		what string
		name string
		h    facet.ReadHeaders
	}{
		{"no content type", "a", facet.ReadHeaders{ContentDisposition: "attachment"}},
		{"no disposition", "a", facet.ReadHeaders{ContentType: "video/webm"}},
		{"neither", "a", facet.ReadHeaders{}},
		{"a line break in the content type", "a", facet.ReadHeaders{ContentType: "video/webm\r\nX-Evil: 1", ContentDisposition: "attachment"}},
		{"a line break in the disposition", "a", facet.ReadHeaders{ContentType: "video/webm", ContentDisposition: "attachment\nX-Evil: 1"}},
		{"an empty name", "", blobReadHeaders},
	} {
		if u, err := b.s.ReadURL(t.Context(), tc.name, exp, tc.h); facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("ReadURL with %s = %q, %v; want code %s", tc.what, u, err, facet.EInvalid)
		}
	}
}

func (b *blobSuite) readLink(t *testing.T, name string, expiry time.Time, h facet.ReadHeaders) string {
	t.Helper()
	u, err := b.s.ReadURL(t.Context(), name, expiry, h)
	if err != nil {
		t.Fatalf("ReadURL(%q, %+v): %v", name, h, err)
	}
	return u
}

// listOne returns the listing of the one blob called name.
func (b *blobSuite) listOne(t *testing.T, name string) facet.BlobInfo {
	t.Helper()
	var found []facet.BlobInfo
	err := b.s.List(t.Context(), name, func(info facet.BlobInfo) error {
		if info.Name == name {
			found = append(found, info)
		}
		return nil
	})
	if err != nil || len(found) != 1 {
		t.Fatalf("List(%q): %v, found it %d times, want once", name, err, len(found))
	}
	return found[0]
}

// wantInfo compares what the store reports with want's name, size, type
// and content type, and requires an ETag and a time.
func (b *blobSuite) wantInfo(t *testing.T, op string, got, want facet.BlobInfo) {
	t.Helper()
	if got.Name != want.Name || got.Size != want.Size || got.Type != want.Type || got.ContentType != want.ContentType ||
		got.ETag == "" || got.LastModified.IsZero() {
		t.Errorf("%s = %+v, want name %q, size %d, type %s, content type %s, an ETag and a time",
			op, got, want.Name, want.Size, want.Type, want.ContentType)
	}
}

// blobCountingWriter counts what a Download writes, keeping none of it.
type blobCountingWriter struct{ n int64 }

func (w *blobCountingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
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
	if err := b.s.Download(t.Context(), name, &buf, facet.DownloadOptions{}); err != nil {
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
	header http.Header
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
	return blobResponse{resp.StatusCode, resp.Header.Get("x-ms-error-code"), resp.Header.Get("Server"), resp.Header, data}
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
