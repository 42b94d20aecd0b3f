package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// TestRouteAccess lists every route with who may call it: a route added,
// or a change of access, must be made here too, on purpose.
func TestRouteAccess(t *testing.T) {
	want := map[string]string{
		"POST /api/clients":                                   "admin",
		"POST /api/session":                                   "public",
		"GET /api/session":                                    "session",
		"DELETE /api/session":                                 "session",
		"GET /api/account/sessions":                           "session",
		"DELETE /api/account/sessions/{id}":                   "session",
		"POST /api/account/password":                          "session",
		"POST /api/account/totp":                              "session",
		"PUT /api/account/totp":                               "session",
		"DELETE /api/account/totp":                            "session",
		"GET /api/signup/{token}":                             "public",
		"POST /api/signup/{token}":                            "public",
		"GET /api/team":                                       "client",
		"POST /api/team/invitations":                          "client",
		"PATCH /api/team/{id}":                                "client",
		"DELETE /api/team/{id}":                               "client",
		"GET /api/clients":                                    "admin",
		"POST /api/clients/{id}/invitations":                  "admin",
		"POST /api/operators/invitations":                     "admin",
		"PATCH /api/clients/me":                               "client",
		"GET /api/clients/me/keys":                            "client",
		"DELETE /api/clients/me/keys/{id}":                    "client",
		"GET /api/clients/me":                                 "client",
		"DELETE /api/clients/me":                              "client",
		"POST /api/clients/me/keys":                           "client",
		"GET /api/clients/me/audit":                           "client",
		"DELETE /api/clients/{id}":                            "admin",
		"GET /api/clients/{id}/audit":                         "admin",
		"GET /api/projects":                                   "client",
		"POST /api/projects":                                  "client",
		"GET /api/projects/{id}":                              "client",
		"PATCH /api/projects/{id}":                            "client",
		"DELETE /api/projects/{id}":                           "client",
		"POST /api/projects/{id}/close":                       "client",
		"POST /api/projects/{id}/reopen":                      "client",
		"GET /api/projects/{id}/audit":                        "client",
		"GET /api/projects/{id}/export.csv":                   "client",
		"GET /api/projects/{id}/report":                       "client",
		"GET /api/projects/{id}/export.json":                  "client",
		"GET /api/projects/{id}/invitations":                  "client",
		"POST /api/projects/{id}/invitations":                 "client",
		"GET /api/projects/{id}/recordings":                   "client",
		"POST /api/projects/{id}/recordings":                  "client",
		"GET /api/invitations/{key}":                          "public",
		"DELETE /api/invitations/{key}":                       "client",
		"POST /api/invitations/{key}/consent":                 "public",
		"GET /api/recordings/{id}":                            "client",
		"DELETE /api/recordings/{id}":                         "client",
		"GET /api/recordings/{id}/analyses/{analysisId}":      "client",
		"DELETE /api/recordings/{id}/analyses/{analysisId}":   "client",
		"POST /api/recordings/{id}/reanalyze":                 "client",
		"GET /api/recordings/{id}/video":                      "client",
		"GET /api/projects/{id}/stimuli":                      "client",
		"POST /api/projects/{id}/stimuli":                     "client",
		"GET /api/projects/{id}/stimuli/{stimulusId}":         "client",
		"PATCH /api/projects/{id}/stimuli/{stimulusId}":       "client",
		"DELETE /api/projects/{id}/stimuli/{stimulusId}":      "client",
		"GET /api/projects/{id}/stimuli/{stimulusId}/results": "client",
		"GET /api/webhooks":                                   "client",
		"POST /api/webhooks":                                  "client",
		"GET /api/webhooks/{id}":                              "client",
		"DELETE /api/webhooks/{id}":                           "client",
		"POST /api/webhooks/{id}/secret":                      "client",
		"POST /api/webhooks/{id}/ping":                        "client",
		"GET /p/{token}":                                      "public",
		"GET /p/assets/{name}":                                "public",
		"GET /api/docs":                                       "public",
		"GET /api/docs/{name}":                                "public",
		"GET /api/openapi.json":                               "public",
		"GET /app/{path...}":                                  "public",

		"GET /api/projects/{id}/stimuli/{stimulusId}/results.csv": "client",
	}
	got := map[string]string{}
	for _, r := range Routes() {
		got[r.Method+" "+r.Path] = r.Auth.String()
		if r.Auth == AccessNone {
			t.Errorf("%s %s has no access level", r.Method, r.Path)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("route access (-want +got):\n%s", diff)
	}
}

// TestAccessDeniedByDefault: a route whose access was left out refuses
// every caller and never runs its handler.
func TestAccessDeniedByDefault(t *testing.T) {
	h := &Handler{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AdminKey: "k"}
	ran := false
	rt := Route{Function: "Forgotten", Method: "GET", Path: "/api/forgotten", serve: func(*Handler, http.ResponseWriter, *http.Request, *facet.Client) error {
		ran = true
		return nil
	}}
	for _, hdr := range []map[string]string{nil, {"X-Admin-Key": "k"}, {"Authorization": "Bearer anything"}} {
		r := httptest.NewRequest("GET", "/api/forgotten", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.serveAPI(w, r, rt)
		if w.Code != http.StatusUnauthorized || ran {
			t.Errorf("headers %v: status %d, handler ran %v; want 401 and not run", hdr, w.Code, ran)
		}
	}
}

func TestBearer(t *testing.T) {
	cases := []struct {
		h, key string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true}, // the scheme is case-insensitive
		{"BEARER  abc ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"Bearer  ", "", false},
		{"", "", false},
		{"Bearerabc", "", false},
	}
	for _, c := range cases {
		if key, ok := bearer(c.h); key != c.key || ok != c.ok {
			t.Errorf("bearer(%q) = %q, %v; want %q, %v", c.h, key, ok, c.key, c.ok)
		}
	}
}
