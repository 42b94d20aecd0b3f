package inmem_test

import (
	"testing"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
	"github.com/humaninsight/facet/internal/porttest"
)

func TestDocStore(t *testing.T) {
	porttest.DocStore(t, func(*testing.T) facet.DocStore { return inmem.NewDocStore() })
}

// TestDocStoreShared runs the suite with one store for every subtest, as
// `facet dev` shares one, to show the subtests do not see each other.
func TestDocStoreShared(t *testing.T) {
	s := inmem.NewDocStore()
	porttest.DocStore(t, func(*testing.T) facet.DocStore { return s })
}
