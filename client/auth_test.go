package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClientAuth: the request editors send each scheme's header, and
// only that one.
func TestClientAuth(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte(`{"items": [], "continuationToken": null}`))
	}))
	defer srv.Close()
	c, err := NewClientWithResponses(srv.URL, WithRequestEditorFn(APIKeyAuth("fk_key")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ListProjectsWithResponse(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.JSON200 == nil || res.JSON200.ContinuationToken != nil {
		t.Errorf("answer %s decoded as %+v", res.Body, res.JSON200)
	}
	if got.Get("Authorization") != "Bearer fk_key" || got.Get("X-Admin-Key") != "" {
		t.Errorf("client key: headers %v", got)
	}
	if _, err := c.ListMyAuditWithResponse(context.Background(), nil, AdminKeyAuth("op")); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Admin-Key") != "op" {
		t.Errorf("operator key: headers %v", got)
	}
}
