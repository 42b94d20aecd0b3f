// Package facet holds the domain of the facet service: the analysis result
// that the engine produces and every other part stores or shows, the error
// type with its codes, and (later) the ports that adapters implement. It
// imports no Azure, ONNX or HTTP package.
package facet
