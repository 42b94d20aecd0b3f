package inmem

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/humaninsight/facet"
)

// Limits Azure applies to one request; the browser's uploader works
// within them, so the stand-in refuses what Azure would refuse.
const (
	blobMaxPut       = 5000 << 20 // Put Blob and Put Block, 5000 MiB
	blobMaxBlockList = 8 << 20    // a Put Block List body (50,000 ids)
	blobMaxBlockID   = 64         // decoded bytes
	blobMaxPage      = 8 << 40    // the largest page blob, 8 TiB
	blobPageSize     = 512        // a page blob's length is a multiple of it
)

// BlobStore is a facet.BlobStore in memory whose signed URLs work without
// Azure: Handler serves them with the rules Azure applies to a blob SAS
// (see porttest.BlobStore), so `facet dev` and tests run the participant's
// upload for real. It is safe for concurrent use.
type BlobStore struct {
	base *url.URL
	key  []byte // signs URLs; random per store, so URLs die with it

	mu     sync.RWMutex
	blobs  map[string]*blobEntry
	staged map[string]map[string][]byte // uncommitted blocks by blob, then block id
	seq    uint64                       // makes ETags
}

// blobEntry is one stored blob. It is never changed once stored, so
// readers use it unlocked.
type blobEntry struct {
	blobType    string            // facet.BlockBlob, PageBlob or AppendBlob
	data        []byte            // a block blob's content; nil otherwise
	size        int64             // len(data), or a page blob's declared length
	blocks      map[string][]byte // committed blocks by id, slices of data
	contentType string            // as the uploader declared it
	disposition string            // x-ms-blob-content-disposition, if declared
	etag        string
	modified    time.Time
}

// NewBlobStore returns an empty store whose signed URLs start with
// baseURL, the address at which the caller serves Handler. It panics if
// baseURL is not an absolute http(s) URL: that is a wiring mistake.
func NewBlobStore(baseURL string) *BlobStore {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		panic(fmt.Sprintf("inmem: blob store base URL %q is not an absolute http(s) URL", baseURL))
	}
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand documents it)
	return &BlobStore{
		base:   u,
		key:    key,
		blobs:  map[string]*blobEntry{},
		staged: map[string]map[string][]byte{},
	}
}

var _ facet.BlobStore = (*BlobStore)(nil)

// SignedURL returns baseURL/name with the permission, the expiry and an
// HMAC over both and the name. perm is any of "r", "c" and "w" (c: create
// a new blob, w: write, overwriting included); an expiry in the past is
// accepted, as Azure accepts it, and the URL is refused when used.
func (b *BlobStore) SignedURL(ctx context.Context, name, perm string, expiry time.Time) (string, error) {
	if err := blobCheckName("sign", name); err != nil {
		return "", err
	}
	sp, ok := blobCanonicalPerm(perm)
	if !ok {
		return "", facet.Errorf(facet.EInvalid, "inmem: sign %s: permission %q is not a combination of r, c and w", name, perm)
	}
	return b.link(name, blobGrant{perm: sp}, expiry), nil
}

// ReadURL returns a read-only URL whose responses carry h's Content-Type
// and Content-Disposition, signed as rsct and rscd the way Azure signs
// them, so editing or dropping either breaks the signature.
func (b *BlobStore) ReadURL(ctx context.Context, name string, expiry time.Time, h facet.ReadHeaders) (string, error) {
	if err := blobCheckName("read link", name); err != nil {
		return "", err
	}
	if err := h.Validate(); err != nil {
		return "", facet.Errorf(facet.EInvalid, "inmem: read link %s: %w", name, err)
	}
	return b.link(name, blobGrant{perm: facet.SASRead, rsct: h.ContentType, rscd: h.ContentDisposition}, expiry), nil
}

// link returns name's URL granting g until expiry.
func (b *BlobStore) link(name string, g blobGrant, expiry time.Time) string {
	se := expiry.UTC().Format(time.RFC3339)
	q := url.Values{"sp": {g.perm}, "se": {se}, "sig": {b.sign(name, g, se)}}
	if g.rsct != "" {
		q.Set("rsct", g.rsct)
	}
	if g.rscd != "" {
		q.Set("rscd", g.rscd)
	}
	u := *b.base
	u.Path = b.base.Path + "/" + name
	u.RawPath = ""
	u.RawQuery = q.Encode()
	return u.String()
}

// Stat returns the blob's properties.
func (b *BlobStore) Stat(ctx context.Context, name string) (facet.BlobInfo, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	sb, ok := b.blobs[name]
	if !ok {
		return facet.BlobInfo{}, blobNotFound("stat", name)
	}
	return sb.info(name), nil
}

// Download writes the blob to w, after checking opt against the stored
// ETag and size (a page blob reads as its declared length of zeros).
func (b *BlobStore) Download(ctx context.Context, name string, w io.Writer, opt facet.DownloadOptions) error {
	if opt.MaxBytes < 0 {
		return facet.Errorf(facet.EInvalid, "inmem: download %s: MaxBytes %d is negative", name, opt.MaxBytes)
	}
	b.mu.RLock()
	sb, ok := b.blobs[name]
	b.mu.RUnlock()
	if !ok {
		return blobNotFound("download", name)
	}
	if opt.IfMatch != "" && opt.IfMatch != "*" && strings.Trim(opt.IfMatch, `"`) != strings.Trim(sb.etag, `"`) {
		return facet.Errorf(facet.EConflict, "inmem: download %s: the blob changed since (ETag %s, not %s)", name, sb.etag, opt.IfMatch)
	}
	if opt.MaxBytes > 0 && sb.size > opt.MaxBytes {
		return facet.Errorf(facet.ETooLarge, "inmem: download %s: %d bytes, over the limit of %d bytes", name, sb.size, opt.MaxBytes)
	}
	if _, err := io.Copy(w, sb.content()); err != nil {
		return fmt.Errorf("inmem: download %s: %w", name, err)
	}
	return nil
}

// Upload stores everything r yields as the blob, replacing any blob of
// that name.
func (b *BlobStore) Upload(ctx context.Context, name string, r io.Reader) (facet.BlobInfo, error) {
	if err := blobCheckName("upload", name); err != nil {
		return facet.BlobInfo{}, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return facet.BlobInfo{}, fmt.Errorf("inmem: upload %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return facet.BlobInfo{}, fmt.Errorf("inmem: upload %s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := blobEntry{blobType: facet.BlockBlob, data: data, contentType: "application/octet-stream"}
	return b.storeLocked(name, e).info(name), nil
}

// Delete removes the blob and its uncommitted blocks; a missing blob is
// not an error.
func (b *BlobStore) Delete(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.blobs, name)
	delete(b.staged, name)
	return nil
}

// List calls fn for each blob whose name starts with prefix, in name
// order. It works on a snapshot taken first, so fn may call the store.
func (b *BlobStore) List(ctx context.Context, prefix string, fn func(facet.BlobInfo) error) error {
	b.mu.RLock()
	var infos []facet.BlobInfo
	for name, sb := range b.blobs {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, sb.info(name))
		}
	}
	b.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("inmem: list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the URLs SignedURL and ReadURL make, as Blob Storage
// serves a blob SAS: GET/HEAD with "r", answering with the signed rsct
// and rscd in place of the stored content type and disposition; Put Blob,
// Put Block and Put Block List with "c" or "w", where only "w" may replace
// an existing blob; 403 for a bad, expired or other blob's signature. Put
// Blob creates what Azure creates: a block blob, or (no body) a
// zero-filled page blob of the declared x-ms-blob-content-length or an
// empty append blob. Put Page and Append Block are refused with 403
// without "w" (as in Azure) and not served with it. Errors
// carry x-ms-error-code and Azure's XML body. Mount it at the base URL's
// path with the trailing slash (it strips the path itself). CORS is open
// to any origin because the signature, not the origin, is the credential.
func (b *BlobStore) Handler() http.Handler { return http.HandlerFunc(b.serve) }

func (b *BlobStore) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Last-Modified, Content-Length, x-ms-error-code")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT")
		h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
		h.Set("Access-Control-Max-Age", "3600")
		return
	}

	name, ok := strings.CutPrefix(r.URL.Path, b.base.Path+"/")
	if !ok || blobCheckName("serve", name) != nil {
		blobFail(w, http.StatusBadRequest, "InvalidUri", "The requested URI does not name a blob.")
		return
	}
	q := r.URL.Query()
	g, why := b.verify(name, q)
	if why != "" {
		blobFail(w, http.StatusForbidden, "AuthenticationFailed", why)
		return
	}
	perm, comp := g.perm, q.Get("comp")
	switch {
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && comp == "":
		b.serveGet(w, r, name, g)
	case r.Method == http.MethodPut && (comp == "page" || comp == "appendblock") && !strings.Contains(perm, "w"):
		blobFailPermission(w)
	case r.Method == http.MethodPut && comp == "":
		b.servePutBlob(w, r, name, perm)
	case r.Method == http.MethodPut && comp == "block":
		b.servePutBlock(w, r, name, perm, q.Get("blockid"))
	case r.Method == http.MethodPut && comp == "blocklist":
		b.servePutBlockList(w, r, name, perm)
	case r.Method == http.MethodDelete && comp == "":
		blobFail(w, http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
	case comp != "":
		blobFail(w, http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: comp.")
	default:
		blobFail(w, http.StatusMethodNotAllowed, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")
	}
}

func (b *BlobStore) serveGet(w http.ResponseWriter, r *http.Request, name string, g blobGrant) {
	if !strings.Contains(g.perm, "r") {
		blobFailPermission(w)
		return
	}
	b.mu.RLock()
	sb, ok := b.blobs[name]
	b.mu.RUnlock()
	if !ok {
		blobFail(w, http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", cmp.Or(g.rsct, sb.contentType))
	if cd := cmp.Or(g.rscd, sb.disposition); cd != "" {
		h.Set("Content-Disposition", cd)
	}
	h.Set("ETag", sb.etag)
	h.Set("x-ms-blob-type", sb.blobType)
	// ServeContent answers Range requests, so a browser can seek in a video.
	http.ServeContent(w, r, "", sb.modified, sb.content())
}

// servePutBlob creates the blob the request's x-ms-blob-type names.
func (b *BlobStore) servePutBlob(w http.ResponseWriter, r *http.Request, name, perm string) {
	if !blobMayWrite(perm) {
		blobFailPermission(w)
		return
	}
	e, ok := blobPutEntry(w, r)
	if !ok {
		return
	}
	// Refuse before reading the body, and again under the lock below.
	if b.refuseOverwrite(w, r, name, perm) {
		return
	}
	if e.blobType == facet.BlockBlob {
		if e.data, ok = blobReadBody(w, r, blobMaxPut); !ok {
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuseOverwriteLocked(w, r, name, perm) {
		return
	}
	delete(b.staged, name)
	blobCreated(w, b.storeLocked(name, e))
}

// blobPutEntry reads the blob a Put Blob creates from its headers,
// answering 400 itself where Azure refuses: a missing or unknown type, a
// body for a page or append blob, a page blob's length missing or not a
// multiple of 512. A block blob's body is read later.
func blobPutEntry(w http.ResponseWriter, r *http.Request) (blobEntry, bool) {
	e := blobEntry{
		blobType:    r.Header.Get("x-ms-blob-type"),
		contentType: blobContentType(r, "x-ms-blob-content-type", "Content-Type"),
		disposition: r.Header.Get("x-ms-blob-content-disposition"),
	}
	switch e.blobType {
	case facet.BlockBlob:
		return e, true
	case facet.PageBlob, facet.AppendBlob:
	case "":
		blobFail(w, http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type.")
		return e, false
	default:
		blobFail(w, http.StatusBadRequest, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format: x-ms-blob-type.")
		return e, false
	}
	if r.ContentLength != 0 {
		blobFail(w, http.StatusBadRequest, "InvalidHeaderValue", "Content-Length must be 0 to create a page blob or an append blob.")
		return e, false
	}
	if e.blobType == facet.AppendBlob {
		return e, true
	}
	length := r.Header.Get("x-ms-blob-content-length")
	if length == "" {
		blobFail(w, http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-blob-content-length.")
		return e, false
	}
	n, err := strconv.ParseInt(length, 10, 64)
	if err != nil || n < 0 || n > blobMaxPage || n%blobPageSize != 0 {
		blobFail(w, http.StatusBadRequest, "InvalidHeaderValue", "x-ms-blob-content-length must be aligned to a 512-byte boundary and at most 8 TiB.")
		return e, false
	}
	e.size = n
	return e, true
}

func (b *BlobStore) servePutBlock(w http.ResponseWriter, r *http.Request, name, perm, id string) {
	if !blobMayWrite(perm) {
		blobFailPermission(w)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(id)
	if id == "" || err != nil || len(raw) > blobMaxBlockID {
		blobFail(w, http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: blockid.")
		return
	}
	data, ok := blobReadBody(w, r, blobMaxPut)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	blocks := b.staged[name]
	for other := range blocks {
		if len(other) != len(id) {
			blobFail(w, http.StatusBadRequest, "InvalidBlobOrBlock", "The specified blob or block content is invalid: block ids of one blob must have the same length.")
			return
		}
	}
	if blocks == nil {
		blocks = map[string][]byte{}
		b.staged[name] = blocks
	}
	blocks[id] = data
	w.WriteHeader(http.StatusCreated)
}

// blobBlockList is the body of Put Block List: ids in blob order, each in
// a Latest, Committed or Uncommitted element.
type blobBlockList struct {
	Items []struct {
		XMLName xml.Name
		ID      string `xml:",chardata"`
	} `xml:",any"`
}

func (b *BlobStore) servePutBlockList(w http.ResponseWriter, r *http.Request, name, perm string) {
	if !blobMayWrite(perm) {
		blobFailPermission(w)
		return
	}
	if b.refuseOverwrite(w, r, name, perm) {
		return
	}
	body, ok := blobReadBody(w, r, blobMaxBlockList)
	if !ok {
		return
	}
	var list blobBlockList
	if err := xml.Unmarshal(body, &list); err != nil {
		blobFail(w, http.StatusBadRequest, "InvalidXmlDocument", "XML specified is not syntactically valid.")
		return
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuseOverwriteLocked(w, r, name, perm) {
		return
	}
	var committed map[string][]byte
	if old := b.blobs[name]; old != nil {
		committed = old.blocks
	}
	uncommitted := b.staged[name]
	var parts [][]byte
	for _, it := range list.Items {
		var p []byte
		var found bool
		switch it.XMLName.Local {
		case "Uncommitted":
			p, found = uncommitted[it.ID]
		case "Committed":
			p, found = committed[it.ID]
		case "Latest":
			if p, found = uncommitted[it.ID]; !found {
				p, found = committed[it.ID]
			}
		}
		if !found {
			blobFail(w, http.StatusBadRequest, "InvalidBlockList", "The specified block list is invalid.")
			return
		}
		parts = append(parts, p)
	}
	data := bytes.Join(parts, nil)
	blocks := make(map[string][]byte, len(list.Items))
	off := 0
	for i, it := range list.Items {
		blocks[it.ID] = data[off : off+len(parts[i]) : off+len(parts[i])]
		off += len(parts[i])
	}
	delete(b.staged, name)
	blobCreated(w, b.storeLocked(name, blobEntry{
		blobType:    facet.BlockBlob,
		data:        data,
		blocks:      blocks,
		contentType: blobContentType(r, "x-ms-blob-content-type"),
		disposition: r.Header.Get("x-ms-blob-content-disposition"),
	}))
}

// refuseOverwrite answers for an existing blob that perm may not replace
// (403 UnauthorizedBlobOverwrite, as Azure answers a "c" SAS) or that the
// request asked not to replace (If-None-Match: *, 409 BlobAlreadyExists).
func (b *BlobStore) refuseOverwrite(w http.ResponseWriter, r *http.Request, name, perm string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.refuseOverwriteLocked(w, r, name, perm)
}

func (b *BlobStore) refuseOverwriteLocked(w http.ResponseWriter, r *http.Request, name, perm string) bool {
	if _, exists := b.blobs[name]; !exists {
		return false
	}
	if !strings.Contains(perm, "w") {
		blobFail(w, http.StatusForbidden, "UnauthorizedBlobOverwrite", "This request is not authorized to perform blob overwrites.")
		return true
	}
	if r.Header.Get("If-None-Match") == "*" {
		blobFail(w, http.StatusConflict, "BlobAlreadyExists", "The specified blob already exists.")
		return true
	}
	return false
}

// storeLocked stores e as the blob, replacing any, with a new ETag and
// time; b.mu must be held for writing.
func (b *BlobStore) storeLocked(name string, e blobEntry) *blobEntry {
	b.seq++
	if e.blobType == facet.BlockBlob {
		e.size = int64(len(e.data))
	}
	e.etag = fmt.Sprintf(`"0x8D%014X"`, b.seq)
	e.modified = time.Now().UTC().Truncate(time.Second) // HTTP dates have seconds
	b.blobs[name] = &e
	return &e
}

func (sb *blobEntry) info(name string) facet.BlobInfo {
	return facet.BlobInfo{
		Name: name, Size: sb.size, ETag: sb.etag, LastModified: sb.modified,
		Type: sb.blobType, ContentType: sb.contentType,
	}
}

// content reads the blob: a page blob, whose pages nobody can write
// through the URLs served here, reads as zeros.
func (sb *blobEntry) content() io.ReadSeeker {
	if sb.blobType == facet.PageBlob {
		return io.NewSectionReader(blobZeros{}, 0, sb.size)
	}
	return bytes.NewReader(sb.data)
}

// blobZeros reads as zero bytes at any offset.
type blobZeros struct{}

func (blobZeros) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

// blobGrant is what a URL's signature covers: the permission and the
// response headers a read forces ("" = the stored ones).
type blobGrant struct {
	perm, rsct, rscd string
}

// sign is the HMAC of everything a URL grants, so changing the name, the
// permission, the expiry or a forced header breaks it. Each field goes in
// with its length, so no two grants read alike.
func (b *BlobStore) sign(name string, g blobGrant, se string) string {
	m := hmac.New(sha256.New, b.key)
	for _, f := range []string{name, g.perm, se, g.rsct, g.rscd} {
		fmt.Fprintf(m, "%d:%s", len(f), f)
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns what a request's signature grants on name, or why it
// grants nothing.
func (b *BlobStore) verify(name string, q url.Values) (g blobGrant, why string) {
	g = blobGrant{perm: q.Get("sp"), rsct: q.Get("rsct"), rscd: q.Get("rscd")}
	se, sig := q.Get("se"), q.Get("sig")
	if g.perm == "" || se == "" || sig == "" {
		return blobGrant{}, "Server failed to authenticate the request: sp, se and sig are required."
	}
	if !hmac.Equal([]byte(sig), []byte(b.sign(name, g, se))) {
		return blobGrant{}, "Signature did not match."
	}
	expiry, err := time.Parse(time.RFC3339, se)
	if err != nil {
		return blobGrant{}, "Signed expiry time is malformed."
	}
	if !time.Now().Before(expiry) {
		return blobGrant{}, "Signature not valid in the specified time frame: it expired at " + se + "."
	}
	return g, ""
}

// blobCanonicalPerm orders perm's letters as Azure does and refuses
// anything but r, c and w, each at most once.
func blobCanonicalPerm(perm string) (string, bool) {
	var out strings.Builder
	for _, c := range "rcw" {
		switch strings.Count(perm, string(c)) {
		case 0:
		case 1:
			out.WriteRune(c)
		default:
			return "", false
		}
	}
	return out.String(), out.Len() > 0 && out.Len() == len(perm)
}

func blobMayWrite(perm string) bool { return strings.ContainsAny(perm, "cw") }

// blobCheckName refuses names that would not survive a round trip through
// a URL path cleaned by http.ServeMux. The app's names (uploads/<id>/<id>)
// never hit this.
func blobCheckName(op, name string) error {
	if name == "" || len(name) > 1024 {
		return facet.Errorf(facet.EInvalid, "inmem: %s %q: a blob name has 1 to 1024 characters", op, name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return facet.Errorf(facet.EInvalid, "inmem: %s %q: empty, . and .. path segments are not allowed", op, name)
		}
	}
	return nil
}

func blobNotFound(op, name string) error {
	return facet.Errorf(facet.ENotFound, "inmem: %s %s: blob not found", op, name)
}

// blobContentType returns the first of the headers the request sets, as
// Azure stores a declared content type (x-ms-blob-content-type before
// Content-Type on Put Blob), else application/octet-stream.
func blobContentType(r *http.Request, headers ...string) string {
	for _, h := range headers {
		if ct := r.Header.Get(h); ct != "" {
			return ct
		}
	}
	return "application/octet-stream"
}

// blobReadBody reads at most limit bytes of the request, answering 413
// (or 400 for a broken body) itself when it cannot.
func blobReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			blobFail(w, http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.")
		} else {
			blobFail(w, http.StatusBadRequest, "InvalidInput", "The request body could not be read.")
		}
		return nil, false
	}
	return data, true
}

func blobCreated(w http.ResponseWriter, sb *blobEntry) {
	w.Header().Set("ETag", sb.etag)
	w.Header().Set("Last-Modified", sb.modified.Format(http.TimeFormat))
	w.WriteHeader(http.StatusCreated)
}

func blobFailPermission(w http.ResponseWriter) {
	blobFail(w, http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
}

// blobFail answers as Blob Storage does, so the participant page's error
// handling meets the same codes locally as in Azure.
func blobFail(w http.ResponseWriter, status int, code, msg string) {
	body, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: msg})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(body)
}
