package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/humaninsight/facet"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// The contract: api/openapi.json as a validator, built once for the
// package's tests (building compiles every schema of the document).
var (
	contractOnce      sync.Once
	contractValidator validator.Validator
	contractModel     *v3.Document
	contractErr       error

	// Counted over a run, reported by TestMain under -v.
	contractRequests  atomic.Int64
	contractResponses atomic.Int64
)

func loadContract(t *testing.T) validator.Validator {
	t.Helper()
	contractOnce.Do(func() {
		raw, err := os.ReadFile(openAPIPath)
		if err != nil {
			contractErr = err
			return
		}
		doc, err := libopenapi.NewDocument(raw)
		if err != nil {
			contractErr = fmt.Errorf("%s: %v", openAPIPath, err)
			return
		}
		m, err := doc.BuildV3Model()
		if err != nil {
			contractErr = fmt.Errorf("%s: %v", openAPIPath, err)
			return
		}
		v := validator.NewValidatorFromV3Model(&m.Model, config.WithFormatAssertions())
		v.SetDocument(doc) // for ValidateDocument
		if ok, verrs := v.ValidateDocument(); !ok {
			contractErr = fmt.Errorf("%s is not a valid OpenAPI document: %s", openAPIPath, describe(verrs))
			return
		}
		contractValidator, contractModel = v, &m.Model
	})
	if contractErr != nil {
		t.Fatal(contractErr)
	}
	return contractValidator
}

// inContract tells the requests the contract documents from the Functions
// host's own: the triggers' invocations (POST /{Trigger}) and the host's
// probe of GET / are the custom handler protocol, not the HTTP API.
func inContract(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/p/")
}

// withContract wraps the handler of the test server: every request of
// the API and its answer are held to api/openapi.json, and a mismatch
// fails t, the test that made the request, with the method, path, status
// and the validator's message. The request is validated only when the
// answer is 2xx, so that tests of refusals may send what the contract
// refuses; the answer is always validated against its documented status.
func withContract(t *testing.T, next http.Handler) http.Handler {
	v := loadContract(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !inContract(r) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			t.Errorf("contract: %s %s: reading the request: %v", r.Method, r.URL.Path, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// The validator's copy, whatever the handler does to r.
		vr := r.Clone(r.Context())
		vr.Body = io.NopCloser(bytes.NewReader(body))

		rec := &recordingWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		rec.commit()

		resp := &http.Response{
			StatusCode: rec.status, Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
			ContentLength: int64(rec.body.Len()), Request: vr,
		}
		if rec.status >= 200 && rec.status < 300 {
			contractRequests.Add(1)
			if ok, errs := v.ValidateHttpRequestSync(vr); !ok {
				t.Errorf("contract: %s %s (%d): request: %s", r.Method, r.URL.RequestURI(), rec.status, describe(errs))
			}
			// The validator read the body: give it back for the answer's check.
			vr.Body = io.NopCloser(bytes.NewReader(body))
		}
		contractResponses.Add(1)
		if err := problemMatches(rec); err != "" {
			t.Errorf("contract: %s %s (%d): %s\nbody: %.300s", r.Method, r.URL.RequestURI(), rec.status, err, rec.body.Bytes())
		}
		if r.Pattern == "/api/" {
			// No route's: the fallback's 404 or 405, held to the
			// document's Problem (it has no operation to look up).
			if err := validateUnrouted(rec); err != "" {
				t.Errorf("contract: %s %s (%d): unrouted answer: %s\nbody: %.300s", r.Method, r.URL.RequestURI(), rec.status, err, rec.body.Bytes())
			}
			return
		}
		ok, errs := v.ValidateHttpResponse(vr, resp)
		if !ok && ambiguous(errs) {
			// A path that reads differently once its escapes are
			// undone (a test's /p/assets/..%2fx): the validator will
			// not pick an operation, so hold the answer to the one
			// the server's mux ran.
			ok, errs = validateRouted(v, r.Pattern, vr, resp)
		}
		if !ok {
			t.Errorf("contract: %s %s (%d): response: %s\nbody: %.300s", r.Method, r.URL.RequestURI(), rec.status, describe(errs), rec.body.Bytes())
		}
	})
}

// problemMatches checks what the document's one Problem schema cannot: a
// problem's status is the answer's, and its type and title are its code's.
func problemMatches(rec *recordingWriter) string {
	if rec.header.Get("Content-Type") != "application/problem+json" {
		return ""
	}
	var p Problem
	if err := json.Unmarshal(rec.body.Bytes(), &p); err != nil {
		return "problem: " + err.Error()
	}
	want, ok := status[p.Code]
	if p.Code == facet.EInternal {
		want, ok = http.StatusInternalServerError, true
	}
	if !ok || want != rec.status || p.Status != rec.status || p.Type != ProblemType(p.Code) || p.Title != ProblemTitles[p.Code] {
		return fmt.Sprintf("problem %+v does not match the answer's status", p)
	}
	return ""
}

// validateUnrouted checks an answer of the /api/ fallback: a 404, or a
// 405 with Allow, whose body is the document's Problem.
func validateUnrouted(rec *recordingWriter) string {
	switch {
	case rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed:
		return "want 404 or 405"
	case rec.status == http.StatusMethodNotAllowed && rec.header.Get("Allow") == "":
		return "405 without Allow"
	case rec.header.Get("Content-Type") != "application/problem+json":
		return "Content-Type " + rec.header.Get("Content-Type")
	}
	schema, ok := contractModel.Components.Schemas.Get("Problem")
	if !ok {
		return "the document has no Problem schema"
	}
	if ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(schema.Schema(), rec.body.Bytes()); !ok {
		return describe(errs)
	}
	return ""
}

// ambiguous tells the validator's refusal of a path whose readings with
// and without its escapes select different operations.
func ambiguous(errs []*verrors.ValidationError) bool {
	return len(errs) == 1 && errs[0].ValidationType == helpers.PathValidation &&
		errs[0].ValidationSubType == helpers.ValidationAmbiguousPath
}

// validateRouted validates the answer against the operation of pattern,
// the mux's "METHOD /path" that served the request.
func validateRouted(v validator.Validator, pattern string, r *http.Request, resp *http.Response) (bool, []*verrors.ValidationError) {
	_, path, _ := strings.Cut(pattern, " ")
	item, ok := contractModel.Paths.PathItems.Get(path)
	if !ok {
		return false, []*verrors.ValidationError{{Message: fmt.Sprintf("the route %q that answered is not documented", pattern)}}
	}
	return v.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(r, resp, item, path)
}

// describe is the validator's message: each error with its reason and
// the failures of its schema.
func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, f := range e.SchemaValidationErrors {
			b.WriteString(" [" + f.Error() + "]")
		}
	}
	return b.String()
}

// recordingWriter passes the answer on and keeps a copy of it: status,
// headers as sent, body.
type recordingWriter struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.header = w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

// commit settles an answer that wrote nothing: 200 with no body.
func (w *recordingWriter) commit() {
	if w.status == 0 {
		w.status = http.StatusOK
		w.header = w.ResponseWriter.Header().Clone()
	}
}

func (w *recordingWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestMain reports, under -v, how many requests and answers the run held
// to the contract.
func TestMain(m *testing.M) {
	code := m.Run()
	if testing.Verbose() {
		fmt.Printf("contract: %d requests and %d responses validated against %s\n",
			contractRequests.Load(), contractResponses.Load(), openAPIPath)
	}
	os.Exit(code)
}
