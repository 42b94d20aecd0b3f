// Package api holds the HTTP API's contract, api/openapi.json (OpenAPI
// 3.1), built into the binary so that GET /api/openapi.json serves the
// very document the tests hold the routes and answers to, and the API
// reference at GET /api/docs renders it.
package api

import _ "embed"

// Document is api/openapi.json as committed. Callers must not modify it.
//
//go:embed openapi.json
var Document []byte
