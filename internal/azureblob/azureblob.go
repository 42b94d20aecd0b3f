// Package azureblob keeps the videos in Azure Blob Storage (or Azurite):
// the facet.BlobStore port over azblob, with the shared-access URLs that
// let participants upload straight from the browser.
package azureblob

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/humaninsight/facet"
)

const (
	// clockSkew backdates every SAS and delegation key, so a URL works at
	// once even where the service's clock is a little ahead of ours.
	clockSkew = 5 * time.Minute
	// keyLifetime is how long a fetched user-delegation key is valid.
	// A key is reused until keyRefresh before it expires, so one is
	// fetched about once a day, not per URL.
	keyLifetime = 24 * time.Hour
	keyRefresh  = 10 * time.Minute
	// maxKeyLifetime is Azure's limit for a user-delegation key, and so
	// for the expiry of a user-delegation SAS.
	maxKeyLifetime = 7 * 24 * time.Hour
)

// Options tunes a Store. The zero value (or nil) signs user-delegation
// SAS for HTTPS and HTTP and lists 5,000 blobs a page.
type Options struct {
	// PageSize is the number of blobs List asks for per page; 0 lets the
	// service choose (5,000). Tests set it low to cross pages.
	PageSize int32
	// SharedKey, when set, signs service SAS with the account key (Azurite,
	// or accounts that allow shared keys). When nil the Store signs
	// user-delegation SAS with a key from GetUserDelegationCredential, as
	// Azure must: the production account has shared keys disabled, so svc
	// then needs an Entra ID credential with the Storage Blob Delegator role.
	SharedKey *azblob.SharedKeyCredential
	// HTTPSOnly restricts signed URLs to HTTPS, as in Azure. Azurite
	// usually serves plain HTTP, which needs it false.
	HTTPSOnly bool
	// CreateWrites signs create-only ("c") links as "cw". Azurite 3.37
	// refuses Put Block and Put Block List through a "c" link, which Azure
	// accepts since SAS version 2026-04-06, so browser block uploads need
	// it locally. It lets a link overwrite its blob: never set it in Azure.
	CreateWrites bool
}

// Store is a facet.BlobStore for one container. It is safe for
// concurrent use.
type Store struct {
	svc  *service.Client
	cont *container.Client
	name string
	opts Options

	mu        sync.Mutex // guards the cached delegation key
	key       *service.UserDelegationCredential
	keyExpiry time.Time
}

var _ facet.BlobStore = (*Store)(nil)

// New returns a Store for the named container of svc's account. The
// container must exist (Bicep creates it in Azure; see EnsureContainer).
func New(svc *service.Client, containerName string, opts *Options) *Store {
	s := &Store{svc: svc, cont: svc.NewContainerClient(containerName), name: containerName}
	if opts != nil {
		s.opts = *opts
	}
	return s
}

// EnsureContainer creates the container if it is missing. Only local
// set-ups call it: in Azure the app's identity may not create containers.
func (s *Store) EnsureContainer(ctx context.Context) error {
	_, err := s.cont.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return classify("create container", s.name, err)
	}
	return nil
}

// AllowBrowserUploads sets the account's Blob service CORS to the one rule
// infra/modules/storage-uploads.bicep deploys in Azure: PUT (single blob,
// Put Block, Put Block List) from the participant page's origins. Only
// local set-ups call it (Azurite); in Azure, Bicep owns the setting.
func (s *Store) AllowBrowserUploads(ctx context.Context, origins ...string) error {
	rule := &service.CORSRule{
		AllowedOrigins:  to.Ptr(strings.Join(origins, ",")),
		AllowedMethods:  to.Ptr("PUT,OPTIONS"),
		AllowedHeaders:  to.Ptr("x-ms-blob-type,x-ms-blob-content-type,content-type,x-ms-version,x-ms-date,x-ms-client-request-id"),
		ExposedHeaders:  to.Ptr("etag,x-ms-request-id"),
		MaxAgeInSeconds: to.Ptr[int32](3600),
	}
	if _, err := s.svc.SetProperties(ctx, &service.SetPropertiesOptions{CORS: []*service.CORSRule{rule}}); err != nil {
		return classify("set CORS", s.name, err)
	}
	return nil
}

// SignedURL returns the blob's URL with a SAS for exactly one blob
// (sr=b) granting perm ("r", "c", "w" or a combination) from a few minutes
// ago until expiry. An expiry in the past is signed as asked; the service
// refuses the URL. The app's read links come from ReadURL.
func (s *Store) SignedURL(ctx context.Context, name, perm string, expiry time.Time) (string, error) {
	if name == "" {
		return "", facet.Errorf(facet.EInvalid, "azureblob: sign: empty blob name")
	}
	if perm == "" || strings.Trim(perm, "rcw") != "" {
		return "", facet.Errorf(facet.EInvalid, "azureblob: sign %s: permission %q is not a combination of r, c and w", name, perm)
	}
	if perm == facet.SASCreate && s.opts.CreateWrites {
		perm = "cw"
	}
	return s.sign(ctx, name, expiry, sas.BlobSignatureValues{Permissions: perm}) // the signer orders the letters
}

// ReadURL returns a read-only SAS for one blob whose responses carry h's
// Content-Type and Content-Disposition: the service answers with the
// signed rsct and rscd instead of the stored properties.
func (s *Store) ReadURL(ctx context.Context, name string, expiry time.Time, h facet.ReadHeaders) (string, error) {
	if name == "" {
		return "", facet.Errorf(facet.EInvalid, "azureblob: read link: empty blob name")
	}
	if err := h.Validate(); err != nil {
		return "", facet.Errorf(facet.EInvalid, "azureblob: read link %s: %w", name, err)
	}
	return s.sign(ctx, name, expiry, sas.BlobSignatureValues{
		Permissions:        facet.SASRead,
		ContentType:        h.ContentType,
		ContentDisposition: h.ContentDisposition,
	})
}

// sign completes v (permissions and response headers set) for one blob
// and returns the blob's URL with it.
func (s *Store) sign(ctx context.Context, name string, expiry time.Time, v sas.BlobSignatureValues) (string, error) {
	v.Protocol = sas.ProtocolHTTPSandHTTP
	if s.opts.HTTPSOnly {
		v.Protocol = sas.ProtocolHTTPS
	}
	v.StartTime = time.Now().UTC().Add(-clockSkew)
	v.ExpiryTime = expiry.UTC()
	v.ContainerName, v.BlobName = s.name, name

	var q sas.QueryParameters
	var err error
	if s.opts.SharedKey != nil {
		q, err = v.SignWithSharedKey(s.opts.SharedKey)
	} else {
		var key *service.UserDelegationCredential
		if key, err = s.delegationKey(ctx, name, expiry); err != nil {
			return "", err
		}
		q, err = v.SignWithUserDelegation(key)
	}
	if err != nil {
		return "", fmt.Errorf("azureblob: sign %s: %w", name, err)
	}
	return s.blobURL(name) + "?" + q.Encode(), nil
}

// blobURL escapes each path segment of name but keeps the slashes, so a
// participant's link reads .../uploads/<project>/<recording> where the
// SDK would write %2F (the service takes either).
func (s *Store) blobURL(name string) string {
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.TrimSuffix(s.cont.URL(), "/") + "/" + strings.Join(segs, "/")
}

// delegationKey returns a user-delegation key valid past expiry, reusing
// the cached one while it has more than keyRefresh left.
func (s *Store) delegationKey(ctx context.Context, name string, expiry time.Time) (*service.UserDelegationCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.key != nil && now.Add(keyRefresh).Before(s.keyExpiry) && !expiry.After(s.keyExpiry) {
		return s.key, nil
	}
	keyExpiry := now.Add(keyLifetime)
	if e := expiry.Add(keyRefresh); e.After(keyExpiry) {
		keyExpiry = e
	}
	if keyExpiry.After(now.Add(maxKeyLifetime)) {
		return nil, facet.Errorf(facet.EInvalid, "azureblob: sign %s: a user-delegation SAS cannot outlive 7 days", name)
	}
	key, err := s.svc.GetUserDelegationCredential(ctx, service.KeyInfo{
		Start:  to.Ptr(now.Add(-clockSkew).UTC().Format(sas.TimeFormat)),
		Expiry: to.Ptr(keyExpiry.UTC().Format(sas.TimeFormat)),
	}, nil)
	if err != nil {
		return nil, classify("get user delegation key for", name, err)
	}
	s.key, s.keyExpiry = key, keyExpiry
	return key, nil
}

// Stat returns the blob's properties.
func (s *Store) Stat(ctx context.Context, name string) (facet.BlobInfo, error) {
	p, err := s.cont.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return facet.BlobInfo{}, classify("stat", name, err)
	}
	return blobInfo(name, p.ContentLength, p.ETag, p.LastModified, p.BlobType, p.ContentType), nil
}

// Download streams the blob into w, resuming the read where it broke off
// if the connection drops (the ETag pins the version being read, so a
// blob replaced meanwhile fails with EConflict). A blob over opt.MaxBytes
// is refused from the response's Content-Length before anything is
// copied, and the copy is capped as well, in case the length is absent.
func (s *Store) Download(ctx context.Context, name string, w io.Writer, opt facet.DownloadOptions) error {
	if opt.MaxBytes < 0 {
		return facet.Errorf(facet.EInvalid, "azureblob: download %s: MaxBytes %d is negative", name, opt.MaxBytes)
	}
	var o *blob.DownloadStreamOptions
	if opt.IfMatch != "" {
		etag := azcore.ETag(quoteETag(opt.IfMatch))
		o = &blob.DownloadStreamOptions{AccessConditions: &blob.AccessConditions{
			ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &etag},
		}}
	}
	bc := s.cont.NewBlobClient(name)
	resp, err := bc.DownloadStream(ctx, o)
	if err != nil {
		return downloadRefused(ctx, bc, name, err)
	}
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 3})
	defer body.Close() // unread bytes are not drained: the connection is dropped
	if opt.MaxBytes > 0 && resp.ContentLength != nil && *resp.ContentLength > opt.MaxBytes {
		return tooLarge(name, fmt.Sprintf("%d bytes", *resp.ContentLength), opt.MaxBytes)
	}
	return copyBounded(w, classifiedReader{body, name}, name, opt.MaxBytes)
}

// downloadRefused classifies a failed Get Blob. A conditional read of a
// blob that is gone answers 412 in Azurite (as HTTP allows), not 404, so
// a 412 is checked with Get Blob Properties: ENotFound for a deleted
// blob, EConflict for a replaced one.
func downloadRefused(ctx context.Context, bc *blob.Client, name string, err error) error {
	err = classify("download", name, err)
	if facet.ErrorCode(err) != facet.EConflict {
		return err
	}
	if _, serr := bc.GetProperties(ctx, nil); serr != nil {
		if serr = classify("download", name, serr); facet.ErrorCode(serr) == facet.ENotFound {
			return serr
		}
	}
	return err
}

// copyBounded copies r to w; with max > 0 it writes at most max bytes
// and reads at most one more, to tell a blob of exactly max bytes from a
// longer one.
func copyBounded(w io.Writer, r io.Reader, name string, max int64) error {
	src := r
	if max > 0 {
		src = io.LimitReader(r, max)
	}
	if _, err := io.Copy(w, src); err != nil {
		return downloadError(name, err)
	}
	if max == 0 {
		return nil
	}
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return tooLarge(name, "more than that", max)
	}
	if err != io.EOF {
		return downloadError(name, err)
	}
	return nil
}

func tooLarge(name, size string, max int64) error {
	return facet.Errorf(facet.ETooLarge, "azureblob: download %s: %s, over the limit of %d bytes", name, size, max)
}

// downloadError keeps a classified error from the service side as it is;
// anything else (a failing writer) is the caller's problem.
func downloadError(name string, err error) error {
	var fe *facet.Error
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("azureblob: download %s: %w", name, err)
}

// quoteETag quotes a bare ETag (the app stores them without quotes) for
// an If-Match header.
func quoteETag(etag string) string {
	if etag == "*" || strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		return etag
	}
	return `"` + etag + `"`
}

// classifiedReader classifies read errors, so Download can tell a broken download
// (retryable) from a failing writer (the caller's problem).
type classifiedReader struct {
	r    io.Reader
	name string
}

func (r classifiedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = classify("download", r.name, err)
	}
	return n, err
}

// Upload stores r as a block blob, in blocks when it is large.
func (s *Store) Upload(ctx context.Context, name string, r io.Reader) (facet.BlobInfo, error) {
	cr := &countingReader{r: r}
	ct := "application/octet-stream"
	resp, err := s.cont.NewBlockBlobClient(name).UploadStream(ctx, cr, &blockblob.UploadStreamOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &ct},
	})
	if err != nil {
		return facet.BlobInfo{}, classify("upload", name, err)
	}
	typ := blob.BlobTypeBlockBlob
	return blobInfo(name, &cr.n, resp.ETag, resp.LastModified, &typ, &ct), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Delete removes the blob with its snapshots, so no copy survives; a blob
// (or container) already gone is success, which makes deletion messages
// safe to redeliver.
func (s *Store) Delete(ctx context.Context, name string) error {
	_, err := s.cont.NewBlobClient(name).Delete(ctx, &blob.DeleteOptions{
		DeleteSnapshots: to.Ptr(blob.DeleteSnapshotsOptionTypeInclude),
	})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
		return classify("delete", name, err)
	}
	return nil
}

// List calls fn for every blob whose name starts with prefix, one page of
// PageSize blobs in memory at a time. fn's error is returned as it is.
func (s *Store) List(ctx context.Context, prefix string, fn func(facet.BlobInfo) error) error {
	opts := &container.ListBlobsFlatOptions{Prefix: &prefix}
	if s.opts.PageSize > 0 {
		opts.MaxResults = &s.opts.PageSize
	}
	pager := s.cont.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return classify("list", prefix, err)
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil || it.Properties == nil {
				continue
			}
			p := it.Properties
			if err := fn(blobInfo(*it.Name, p.ContentLength, p.ETag, p.LastModified, p.BlobType, p.ContentType)); err != nil {
				return err
			}
		}
	}
	return nil
}

func blobInfo(name string, size *int64, etag *azcore.ETag, modified *time.Time, typ *blob.BlobType, ct *string) facet.BlobInfo {
	info := facet.BlobInfo{Name: name}
	if typ != nil {
		info.Type = string(*typ)
	}
	if ct != nil {
		info.ContentType = *ct
	}
	if size != nil {
		info.Size = *size
	}
	if etag != nil {
		info.ETag = string(*etag)
	}
	if modified != nil {
		info.LastModified = *modified
	}
	return info
}

// classify turns an SDK error into the port's codes, once, here: 404 is
// ENotFound; 412 (a condition such as If-Match not met: the blob changed)
// is EConflict; throttling, server errors and network failures are
// EUnavailable (the caller may retry). Anything else, 401 and 403
// included, stays a plain error: our own credentials being refused is a
// configuration fault, not something a retry or the client can fix.
// Messages stay short and free of URLs; the cause is kept for logs.
func classify(op, name string, err error) error {
	prefix := "azureblob: " + op + " " + name + ": "
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		what := fmt.Sprintf("%d %s", re.StatusCode, re.ErrorCode)
		switch {
		case re.StatusCode == 404:
			return &facet.Error{Code: facet.ENotFound, Message: prefix + "not found (" + what + ")", Err: err}
		case re.StatusCode == 412:
			return &facet.Error{Code: facet.EConflict, Message: prefix + "changed since (" + what + ")", Err: err}
		case re.StatusCode == 408 || re.StatusCode == 429 || re.StatusCode >= 500:
			return &facet.Error{Code: facet.EUnavailable, Message: prefix + "service unavailable (" + what + ")", Err: err}
		}
		return fmt.Errorf("%s%w", prefix, err)
	}
	var ce *tls.CertificateVerificationError
	if errors.Is(err, context.Canceled) || errors.As(err, &ce) {
		return fmt.Errorf("%s%w", prefix, err) // the caller gave up; or set-up is wrong
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &facet.Error{Code: facet.EUnavailable, Message: prefix + "service unreachable", Err: err}
	}
	return fmt.Errorf("%s%w", prefix, err)
}
