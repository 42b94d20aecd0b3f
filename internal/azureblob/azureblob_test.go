package azureblob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/porttest"
	"github.com/humaninsight/facet/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestSharedKey runs the suite with service SAS signed by the account key:
// against the Azurite testenv starts, or the account in
// AZURE_STORAGE_CONNECTION_STRING.
func TestSharedKey(t *testing.T) {
	b := testenv.BlobService(t)
	account, key := b.Account, b.Key
	if account == "" {
		account, key = connStringValue(b.ConnectionString, "AccountName"), connStringValue(b.ConnectionString, "AccountKey")
	}
	if key == "" {
		testenv.Skip(t, "the connection string has no account key to sign service SAS with")
	}
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.NewClientFromConnectionString(b.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, svc, &Options{PageSize: 7, SharedKey: cred, HTTPSOnly: strings.HasPrefix(svc.URL(), "https:")})
	porttest.BlobStore(t, s, &http.Client{Timeout: 2 * time.Minute})
}

// TestUserDelegation runs the suite as production signs: user-delegation
// SAS from an Entra ID credential, HTTPS only. Azurite in OAuth mode
// stands in for the account and an in-test server for Entra ID.
func TestUserDelegation(t *testing.T) {
	az := testenv.AzuriteOAuth(t)
	cred, err := azidentity.NewClientSecretCredential(az.TenantID, az.ClientID, az.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: az.AuthorityHost},
			Transport: az.Client,
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.NewClient(az.URL+"/", cred, &service.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: az.Client},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, svc, &Options{PageSize: 7, HTTPSOnly: true})
	porttest.BlobStore(t, s, az.Client)

	u, err := s.SignedURL(t.Context(), "x", facet.SASRead, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if q := mustQuery(t, u); q.Get("skoid") == "" || q.Get("spr") != "https" {
		t.Errorf("SignedURL = %s, want a user-delegation SAS (skoid) for https only", u)
	}
}

// newTestStore makes a store on a fresh container, removed at the end.
func newTestStore(t *testing.T, svc *service.Client, opts *Options) *Store {
	t.Helper()
	p := make([]byte, 4)
	rand.Read(p)
	name := "facet-test-" + hex.EncodeToString(p)
	s := New(svc, name, opts)
	for range 2 { // the second call finds the container and must not fail
		if err := s.EnsureContainer(t.Context()); err != nil {
			t.Fatalf("EnsureContainer: %v", err)
		}
	}
	t.Cleanup(func() {
		if _, err := svc.DeleteContainer(context.Background(), name, nil); err != nil {
			t.Logf("delete container %s: %v", name, err)
		}
	})
	return s
}

// TestSASVersion guards the reason SASCreate can be "c" alone: Azure
// accepts "c" for Put Block and Put Block List from REST version
// 2026-04-06, and the SDK signs SAS with its own version.
func TestSASVersion(t *testing.T) {
	if sas.Version < "2026-04-06" {
		t.Fatalf("azblob signs SAS with version %s; Put Block through a create-only SAS needs 2026-04-06 or later", sas.Version)
	}
}

// TestSignedURL checks the SAS itself, offline: one blob, the permission
// asked and no more, backdated start, the expiry asked, the protocol.
func TestSignedURL(t *testing.T) {
	cred, err := azblob.NewSharedKeyCredential(testenv.AzuriteAccount, testenv.AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.NewClientWithSharedKeyCredential("https://acct.blob.core.windows.net/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	expiry := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		perm, wantSP string
		httpsOnly    bool
		wantSPR      string
	}{
		{facet.SASCreate, "c", true, "https"},
		{facet.SASRead, "r", false, "https,http"},
		{"wc", "cw", true, "https"},
	} {
		s := New(svc, "uploads", &Options{SharedKey: cred, HTTPSOnly: tc.httpsOnly})
		u, err := s.SignedURL(t.Context(), "p1/r1", tc.perm, expiry)
		if err != nil {
			t.Fatalf("SignedURL(%q): %v", tc.perm, err)
		}
		if !strings.HasPrefix(u, "https://acct.blob.core.windows.net/uploads/p1/r1?") {
			t.Errorf("SignedURL(%q) = %s, want the blob's URL", tc.perm, u)
		}
		q := mustQuery(t, u)
		st, _ := time.Parse(time.RFC3339, q.Get("st"))
		se, _ := time.Parse(time.RFC3339, q.Get("se"))
		if q.Get("sr") != "b" || q.Get("sp") != tc.wantSP || q.Get("spr") != tc.wantSPR || !se.Equal(expiry) ||
			time.Since(st) < clockSkew-time.Minute || time.Since(st) > clockSkew+time.Minute {
			t.Errorf("SignedURL(%q) query = %v, want sr=b sp=%s spr=%s se=%s and st %v ago",
				tc.perm, q, tc.wantSP, tc.wantSPR, expiry.UTC().Format(time.RFC3339), clockSkew)
		}
	}

	s := New(svc, "uploads", &Options{SharedKey: cred})
	for _, perm := range []string{"", "d", "rx", "racwd"} {
		if _, err := s.SignedURL(t.Context(), "p1/r1", perm, expiry); facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("SignedURL with permission %q: %v, want code %s", perm, err, facet.EInvalid)
		}
	}
	if _, err := s.SignedURL(t.Context(), "", "r", expiry); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("SignedURL of an empty name: %v, want code %s", err, facet.EInvalid)
	}
	h := facet.ReadHeaders{ContentType: "video/webm", ContentDisposition: `attachment; filename="r.webm"`}
	u, err := s.ReadURL(t.Context(), "p1/r1", expiry, h)
	if err != nil {
		t.Fatalf("ReadURL: %v", err)
	}
	if q := mustQuery(t, u); q.Get("sr") != "b" || q.Get("sp") != "r" || q.Get("rsct") != h.ContentType || q.Get("rscd") != h.ContentDisposition {
		t.Errorf("ReadURL query = %v, want sr=b sp=r and rsct, rscd %+v", q, h)
	}
	// Refused before any key is fetched: a delegation key lives 7 days at most.
	ud := New(svc, "uploads", nil)
	if _, err := ud.SignedURL(t.Context(), "p1/r1", "r", time.Now().Add(8*24*time.Hour)); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("user-delegation SignedURL 8 days ahead: %v, want code %s", err, facet.EInvalid)
	}
}

func TestClassify(t *testing.T) {
	respErr := func(status int, code string) error {
		resp := &http.Response{
			StatusCode: status,
			Header:     http.Header{"X-Ms-Error-Code": {code}},
			Body:       io.NopCloser(strings.NewReader("")),
			Request:    &http.Request{Method: "GET", URL: &url.URL{Scheme: "https", Host: "acct.blob.core.windows.net", Path: "/c/b"}},
		}
		return &azcore.ResponseError{StatusCode: status, ErrorCode: code, RawResponse: resp}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"blob missing", respErr(404, "BlobNotFound"), facet.ENotFound},
		{"changed since", respErr(412, "ConditionNotMet"), facet.EConflict},
		{"container missing", respErr(404, "ContainerNotFound"), facet.ENotFound},
		{"throttled", respErr(429, ""), facet.EUnavailable},
		{"busy", respErr(503, "ServerBusy"), facet.EUnavailable},
		{"internal", respErr(500, "InternalError"), facet.EUnavailable},
		{"timeout", respErr(408, "OperationTimedOut"), facet.EUnavailable},
		{"our key refused", respErr(403, "AuthorizationPermissionMismatch"), facet.EInternal},
		{"bad request", respErr(400, "InvalidHeaderValue"), facet.EInternal},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, facet.EUnavailable},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), facet.EUnavailable},
		{"cancelled", fmt.Errorf("send: %w", context.Canceled), facet.EInternal},
		{"other", errors.New("boom"), facet.EInternal},
	} {
		err := classify("stat", "p/r", tc.err)
		if got := facet.ErrorCode(err); got != tc.want {
			t.Errorf("%s: code %q, want %q (%v)", tc.name, got, tc.want, err)
		}
		if !strings.HasPrefix(err.Error(), "azureblob: stat p/r: ") || !errors.Is(err, tc.err) {
			t.Errorf("%s: %q lacks the op prefix or the cause", tc.name, err)
		}
	}
}

// TestDownloadCapped serves a blob without a Content-Length (chunked), so
// only the capped copy can notice it is over MaxBytes: w must get no
// more than MaxBytes, and the server is not read far past it.
func TestDownloadCapped(t *testing.T) {
	const max, total = 1000, 256 << 20 // far more than socket buffers hold
	sent := make(chan int64, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"0x1"`)
		w.Header().Set("x-ms-blob-type", "BlockBlob")
		w.WriteHeader(http.StatusOK)
		var n int64
		defer func() { sent <- n }()
		chunk := make([]byte, 32<<10)
		for range total / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			n += int64(len(chunk))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	svc, err := service.NewClientWithNoCredential(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(svc, "uploads", nil)
	var w countingWriter
	err = s.Download(t.Context(), "p/r", &w, facet.DownloadOptions{MaxBytes: max})
	if facet.ErrorCode(err) != facet.ETooLarge || w.n > max {
		t.Errorf("Download of an endless blob with MaxBytes %d: %v after %d bytes, want %s after at most %d", max, err, w.n, facet.ETooLarge, max)
	}
	if n := <-sent; n >= total {
		t.Errorf("the server sent all %d bytes: the download read past its cap", n)
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query()
}

// connStringValue returns key's value in an Azure connection string.
func connStringValue(cs, key string) string {
	for part := range strings.SplitSeq(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
