// Package inmem holds in-memory adapters of every port. They are real
// implementations, not mocks: `facet analyze` and `facet dev` run on them,
// unit tests use them, and each passes the same conformance suite
// (internal/porttest) as its Azure counterpart. Nothing is persisted: a
// store lives as long as its process.
package inmem
