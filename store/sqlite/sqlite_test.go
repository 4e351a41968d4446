package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
	"github.com/fhirseal/fhirseal/store/sqlite"
	"github.com/fhirseal/fhirseal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "fhirseal.db"), sqlite.Options{Indexer: search.Extract})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
