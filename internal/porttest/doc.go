// Package porttest holds one conformance suite per port, run against every
// adapter: the in-memory ones in their unit tests and the Azure ones against
// the local stand-ins, the official emulators or real Azure. A behaviour the
// suite checks is part of the port's contract; a behaviour it does not check
// is one callers must not rely on.
//
// The suites use fresh ids and partitions in every subtest, so several of
// them (and other tests) may share one store.
package porttest
