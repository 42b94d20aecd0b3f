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
// refuses the URL.
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
	now := time.Now().UTC()
	v := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     now.Add(-clockSkew),
		ExpiryTime:    expiry.UTC(),
		Permissions:   perm, // the signer puts the letters in Azure's order
		ContainerName: s.name,
		BlobName:      name,
	}
	if s.opts.HTTPSOnly {
		v.Protocol = sas.ProtocolHTTPS
	}

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
	return blobInfo(name, p.ContentLength, p.ETag, p.LastModified), nil
}

// Download streams the blob into w, resuming the read where it broke off
// if the connection drops (the ETag pins the version being read).
func (s *Store) Download(ctx context.Context, name string, w io.Writer) error {
	resp, err := s.cont.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return classify("download", name, err)
	}
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 3})
	defer body.Close()
	if _, err := io.Copy(w, classifiedReader{body, name}); err != nil {
		var fe *facet.Error
		if errors.As(err, &fe) {
			return err // from the service side, already classified
		}
		return fmt.Errorf("azureblob: download %s: %w", name, err)
	}
	return nil
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
	resp, err := s.cont.NewBlockBlobClient(name).UploadStream(ctx, cr, nil)
	if err != nil {
		return facet.BlobInfo{}, classify("upload", name, err)
	}
	return blobInfo(name, &cr.n, resp.ETag, resp.LastModified), nil
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
			if err := fn(blobInfo(*it.Name, p.ContentLength, p.ETag, p.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

func blobInfo(name string, size *int64, etag *azcore.ETag, modified *time.Time) facet.BlobInfo {
	info := facet.BlobInfo{Name: name}
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
// ENotFound; throttling, server errors and network failures are
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
