package inmem_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
	"github.com/humaninsight/facet/internal/porttest"
)

// newBlobServer serves a store under a path, as `facet dev` mounts it
// beside the API, so prefix stripping and ServeMux path cleaning are part
// of the test.
func newBlobServer(t *testing.T) (*inmem.BlobStore, *httptest.Server) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := inmem.NewBlobStore(srv.URL + "/blobs/")
	mux.Handle("/blobs/", s.Handler())
	return s, srv
}

func TestBlobStore(t *testing.T) {
	s, srv := newBlobServer(t)
	porttest.BlobStore(t, s, srv.Client())
}

func TestBlobStoreSignedURLRefuses(t *testing.T) {
	s, _ := newBlobServer(t)
	exp := time.Now().Add(time.Hour)
	for _, tc := range []struct{ name, perm string }{
		{"a", ""},
		{"a", "d"},
		{"a", "rr"},
		{"a", "rcwx"},
		{"", "r"},
		{"a//b", "r"},
		{"a/../b", "r"},
		{"/a", "r"},
	} {
		if u, err := s.SignedURL(t.Context(), tc.name, tc.perm, exp); facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("SignedURL(%q, %q) = %q, %v; want code %s", tc.name, tc.perm, u, err, facet.EInvalid)
		}
	}
	// Letters in any order mean the same grant.
	u, err := s.SignedURL(t.Context(), "a", "wc", exp)
	if err != nil || !strings.Contains(u, "sp=cw") {
		t.Errorf("SignedURL(a, wc) = %q, %v; want sp=cw", u, err)
	}
}

func TestNewBlobStorePanicsOnBadURL(t *testing.T) {
	for _, base := range []string{"", "/blobs", "ftp://x/", "http://x/?a=b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewBlobStore(%q) did not panic", base)
				}
			}()
			inmem.NewBlobStore(base)
		}()
	}
}

// TestBlobStoreBrowser covers what a browser needs beyond the suite: a
// CORS preflight before the upload, ranges to seek in a video, and the
// conditional PUT an uploader may add to a "cw" URL.
func TestBlobStoreBrowser(t *testing.T) {
	s, srv := newBlobServer(t)
	c := srv.Client()
	do := func(method, u string, h http.Header, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	exp := time.Now().Add(time.Hour)
	put, _ := s.SignedURL(t.Context(), "uploads/p/r", facet.SASCreate, exp)

	resp := do("OPTIONS", put, http.Header{
		"Origin":                         {"http://localhost:5173"},
		"Access-Control-Request-Method":  {"PUT"},
		"Access-Control-Request-Headers": {"x-ms-blob-type,content-type"},
	}, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "x-ms-blob-type") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("preflight = %d %v", resp.StatusCode, resp.Header)
	}

	if resp := do("PUT", put, nil, "no blob type"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT without x-ms-blob-type = %d, want 400", resp.StatusCode)
	}
	blockBlob := http.Header{"X-Ms-Blob-Type": {"BlockBlob"}, "Content-Type": {"video/webm"}}
	if resp := do("PUT", put, blockBlob, "0123456789"); resp.StatusCode != http.StatusCreated || resp.Header.Get("ETag") == "" {
		t.Fatalf("PUT = %d (ETag %q), want 201 with an ETag", resp.StatusCode, resp.Header.Get("ETag"))
	}

	get, _ := s.SignedURL(t.Context(), "uploads/p/r", facet.SASRead, exp)
	resp = do("GET", get, http.Header{"Range": {"bytes=2-4"}}, "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || string(body) != "234" || resp.Header.Get("Content-Type") != "video/webm" {
		t.Errorf("ranged GET = %d %q (%s), want 206 \"234\" video/webm", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}

	write, _ := s.SignedURL(t.Context(), "uploads/p/r", "cw", exp)
	ifNone := http.Header{"X-Ms-Blob-Type": {"BlockBlob"}, "If-None-Match": {"*"}}
	if resp := do("PUT", write, ifNone, "again"); resp.StatusCode != http.StatusConflict || resp.Header.Get("x-ms-error-code") != "BlobAlreadyExists" {
		t.Errorf("PUT with If-None-Match: * over a blob = %d %s, want 409 BlobAlreadyExists", resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}
	if resp := do("PUT", write, blockBlob, "again"); resp.StatusCode != http.StatusCreated {
		t.Errorf("PUT through a cw URL over a blob = %d, want 201", resp.StatusCode)
	}
}

// TestBlobStoreCommittedBlocks rewrites a blob from its committed blocks
// plus a new one, as an uploader that resumes does.
func TestBlobStoreCommittedBlocks(t *testing.T) {
	s, srv := newBlobServer(t)
	u, _ := s.SignedURL(t.Context(), "b", "cw", time.Now().Add(time.Hour))
	put := func(query, body string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "PUT", u+query, strings.NewReader(body))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const a, b, c = "YWFh", "YmJi", "Y2Nj" // base64 of aaa, bbb, ccc
	for id, data := range map[string]string{a: "AAA", b: "BBB"} {
		if st := put("&comp=block&blockid="+id, data); st != http.StatusCreated {
			t.Fatalf("Put Block %s = %d", id, st)
		}
	}
	if st := put("&comp=blocklist", "<BlockList><Latest>"+a+"</Latest><Uncommitted>"+b+"</Uncommitted></BlockList>"); st != http.StatusCreated {
		t.Fatalf("Put Block List = %d", st)
	}
	if st := put("&comp=block&blockid=eHh4eHh4", "x"); st != http.StatusCreated {
		t.Fatalf("Put Block with a longer id after a commit = %d, want 201 (the commit cleared staged ids)", st)
	}
	if st := put("&comp=block&blockid="+c, "CCC"); st != http.StatusBadRequest {
		t.Errorf("Put Block with an id of another length = %d, want 400", st)
	}
	if st := put("&comp=blocklist", "<BlockList><Committed>"+b+"</Committed><Uncommitted>eHh4eHh4</Uncommitted><Latest>"+a+"</Latest></BlockList>"); st != http.StatusCreated {
		t.Fatalf("second Put Block List = %d", st)
	}
	var got strings.Builder
	if err := s.Download(t.Context(), "b", &got, facet.DownloadOptions{}); err != nil || got.String() != "BBBxAAA" {
		t.Errorf("Download = %q, %v; want \"BBBxAAA\"", got.String(), err)
	}
	if st := put("&comp=blocklist", "<BlockList><Uncommitted>"+a+"</Uncommitted></BlockList>"); st != http.StatusBadRequest {
		t.Errorf("Put Block List naming a block that is not staged = %d, want 400", st)
	}
}

// TestBlobStorePageBlob reads a page blob a create URL made: its declared
// length of zeros, with its type, through a ReadURL's forced headers.
func TestBlobStorePageBlob(t *testing.T) {
	s, srv := newBlobServer(t)
	exp := time.Now().Add(time.Hour)
	put, _ := s.SignedURL(t.Context(), "uploads/p/r", facet.SASCreate, exp)
	req, _ := http.NewRequestWithContext(t.Context(), "PUT", put, nil)
	req.Header.Set("x-ms-blob-type", facet.PageBlob)
	req.Header.Set("x-ms-blob-content-length", "1024")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT of a page blob = %d, want 201", resp.StatusCode)
	}
	get, err := s.ReadURL(t.Context(), "uploads/p/r", exp, facet.ReadHeaders{ContentType: "video/webm", ContentDisposition: "attachment"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequestWithContext(t.Context(), "GET", get, nil)
	req.Header.Set("Range", "bytes=1020-1030")
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || string(body) != "\x00\x00\x00\x00" ||
		resp.Header.Get("x-ms-blob-type") != facet.PageBlob || resp.Header.Get("Content-Type") != "video/webm" ||
		resp.Header.Get("Content-Range") != "bytes 1020-1023/1024" {
		t.Errorf("ranged GET of the page blob = %d %q %v", resp.StatusCode, body, resp.Header)
	}
}
