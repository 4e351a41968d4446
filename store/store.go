// Package store defines how fhirseal keeps resources: every version of
// every resource, the current version of each, and (in the same
// transaction as each version) its search index rows and its ledger leaf.
//
// Guarantees every backend gives (checked by storetest.Run):
//
//   - A write is all-or-nothing: the version row, the current pointer, the
//     index rows and the ledger leaf commit together or not at all.
//   - Update returns only after the write is durable: an acknowledged write
//     survives a killed process.
//   - Version ids of a resource are 1, 2, 3, ... and never reused; a delete
//     is a version too (a tombstone), so history keeps it.
//   - Stored bytes are exactly what reads return and what the ledger
//     hashes; they carry meta.versionId and meta.lastUpdated.
//   - The current version is found without scanning history.
//
// A backend never parses query strings or speaks HTTP; it is given typed
// requests.
package store

import (
	"context"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
)

// Op is the kind of write that produced a version.
type Op string

const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Version is one stored version of a resource.
type Version struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated string // exact meta.lastUpdated of the version
	Op          Op
	Body        []byte // stored bytes; nil for a delete
	LedgerIndex int64  // index of the version's leaf in the ledger
}

// Deleted reports whether v is a tombstone.
func (v *Version) Deleted() bool { return v.Op == OpDelete }

// Store is the contract of a storage backend.
//
// Read and VRead return fhir.ErrNotFound for an unknown resource or version
// and, for Read, the tombstone together with fhir.ErrDeleted when the
// current version is a delete. All methods are safe for concurrent use.
type Store interface {
	Read(ctx context.Context, typ, id string) (*Version, error)
	VRead(ctx context.Context, typ, id string, vid int64) (*Version, error)
	History(ctx context.Context, q HistoryQuery) ([]Version, error)
	Search(ctx context.Context, q *Query) (*Page, error)
	// Update runs fn in a transaction of its own (a savepoint inside a
	// group commit, for backends that group writes) and returns once the
	// result is durable. If fn returns an error nothing it wrote is kept.
	// fn may run on another goroutine and must not block on the network.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Tx is the view of the store inside Update.
type Tx interface {
	// Current returns the current version of a resource, like Read.
	Current(typ, id string) (*Version, error)
	// Put stores res as the next version of its resource (version 1 when it
	// does not exist or only a different resource type has the id). It sets
	// meta.versionId and meta.lastUpdated on res before serialising it. A
	// non-zero ifMatch must equal the current version id, else
	// fhir.ErrConflict.
	Put(res *fhir.Node, ifMatch int64) (*Version, error)
	// Delete writes a tombstone. Deleting a missing or already deleted
	// resource is not an error and writes nothing (nil version).
	Delete(typ, id string, ifMatch int64) (*Version, error)
	// Search runs a query against the state inside the transaction (used
	// by conditional interactions and transaction bundles).
	Search(q *Query) (*Page, error)
	// Erase lawfully erases every version of the listed resources: their
	// bodies, keys and index rows are removed, their metadata rows stay,
	// and one erase leaf naming target (the resource, or the Patient whose
	// compartment is erased) commits to the erased leaf indices. Resources
	// with nothing left to erase are skipped; fhir.ErrNotFound when none had
	// anything.
	Erase(target fhir.Ref, resources []fhir.Ref) (*Erasure, error)
}

// Erasure is the result of Tx.Erase.
type Erasure struct {
	LedgerIndex int64 // index of the erase leaf
	Versions    int   // versions erased
	LastUpdated string
}

// HistoryQuery selects versions for the history interactions. Type and ID
// narrow it to a type or one resource; Since and At filter by
// lastUpdated. Versions come newest first.
type HistoryQuery struct {
	Type, ID string
	Since    time.Time
	At       time.Time
	Count    int
	// Before continues a page: only versions with a ledger index lower
	// than Before (0: from the newest).
	Before int64
}

// Query is a typed search request. Backends compile it into their own
// query language; the access decision arrives here as part of it, so counts
// and paging only ever see what the caller may see.
//
// Restrict is the mandatory part of a query: criteria the caller did not
// choose (the access decision: a compartment, security labels), ANDed
// with Criteria for the matches and applied to every included resource as
// well. Backends compile it into the same query, never filter afterwards,
// so totals, paging and includes only ever see what it admits. Restrict
// criteria must make sense for every type (common parameters and
// search.Compartment).
type Query struct {
	Types    []string            // resource types searched; empty means all
	Criteria []*search.Criterion // ANDed
	Restrict []*search.Criterion // ANDed with every match and every included resource
	// Sort orders the matches by its keys in turn; resources without a
	// value for a key come after those with one, and ties are broken by
	// type and id. Without Sort, matches come in the order they were
	// written.
	Sort   []search.SortKey
	Count  int
	Offset int
	Total  bool // compute the total number of matches
	// AsOf pins paging to the state at a ledger index, so later writes do
	// not shift pages (0: current state).
	AsOf int64
	// Includes are the _include and _revinclude directives, applied to
	// the page's matches (and, for iterate ones, to included resources).
	Includes []search.Include
	// MaxIncluded caps the resources included for one page; beyond it
	// Page.IncludedCapped is set (0 means a cap of 1000).
	MaxIncluded int
}

// Page is one page of search matches.
type Page struct {
	Matches []Version
	Total   int // -1 when not computed
	More    bool
	// Included are the resources the Includes found that are not among
	// the matches, each once, ordered by type and id.
	Included []Version
	// IncludedCapped reports that more resources were to be included than
	// MaxIncluded: Included holds only MaxIncluded of them.
	IncludedCapped bool
}

// DefaultMaxIncluded is the include cap when Query.MaxIncluded is 0.
const DefaultMaxIncluded = 1000

// Indexer extracts the search index entries of a resource. The store calls
// it inside the write transaction, so index rows commit with the version.
type Indexer func(res *fhir.Node) []search.Entry
