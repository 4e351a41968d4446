// Package ledger is fhirseal's tamper-evident log of writes: an RFC 6962
// Merkle tree with one leaf per resource-version write and one per erasure,
// signed C2SP checkpoints, proofs anyone can check offline, and an audit
// that re-checks a whole store.
//
// # Guarantees
//
// Leaves hold no patient data. A leaf shows only the operation, the
// timestamp and a keyed commitment; the commitment reveals nothing without
// the per-version key, and erasing the key (with the body) leaves the
// commitment unopenable while the tree stays intact. Once a checkpoint is
// signed, any later change to a stored version, leaf, node or head, any
// reordering, truncation or fork, and any deletion not recorded by an erase
// leaf is detected by Audit, and a client holding a checkpoint detects a
// shrinking or forked log with VerifyCheckpointUpdate.
//
// The package never touches the network or a database itself, never
// imports the FHIR model or the store, and never signs a checkpoint that is
// not consistent with the previous one (C2SP tlog-checkpoint, "Signatures").
//
// # Leaf format (fixed contract; outside verifiers depend on it)
//
//	key        = 32 random bytes per resource version, stored with that version (erasable)
//	bodyHash   = SHA-256(exact stored bytes of the version)
//	commitment = HMAC-SHA-256(key, "fhirseal/v1/commit\n" + type + "/" + id + "/_history/" + vid + "\n"
//	                                + lastUpdated + "\n" + op + "\n" + hex(bodyHash) + "\n" + prev + "\n")
//	leaf       = "fhirseal/v1\n" + op + "\n" + lastUpdated + "\n" + base64(commitment) + "\n"
//	leafHash   = SHA-256(0x00 || leaf)        nodes: SHA-256(0x01 || left || right)
//
// where:
//   - op is one of create, update, delete, erase;
//   - lastUpdated is the exact meta.lastUpdated text (a FHIR instant);
//   - type is a resource type name, id and vid are FHIR ids
//     ([A-Za-z0-9\-.]{1,64}); none contains "/" or a newline;
//   - prev is the decimal ledger index of the previous leaf of the same
//     resource (for any op but erase), or "-" for the first;
//   - hex is lower case; base64 is standard encoding with padding (RFC 4648,
//     section 4), 44 characters for the 32-byte commitment;
//   - for a delete the stored body is empty, so bodyHash is SHA-256 of the
//     empty string and hex(bodyHash) is
//     e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.
//
// # Erase leaves
//
// An erasure (of one resource or of a patient compartment) removes the body
// and key of the versions it erases and appends one erase leaf that lists
// them, so a verifier can tell lawful erasure from silent deletion. The
// erase leaf uses the same formulas with:
//
//   - op = erase;
//   - type/id naming the target: the erased resource (e.g.
//     "Observation/123") or the compartment (e.g. "Patient/42");
//   - vid = the erasure's sequence number for that target, "1", "2", ...;
//   - prev = the index of the previous erase leaf for the same target, or
//     "-" (erase leaves form their own chain per target);
//   - lastUpdated = the time of the erasure;
//   - body = the canonical erased-index list: the erased leaf indices in
//     strictly increasing decimal, each followed by "\n" ("3\n7\n12\n"; see
//     EncodeErasure), and bodyHash = SHA-256 of that list;
//   - key = a fresh key.
//
// The list and the erase key are stored with the erasure record and never
// erased. A valid erase leaf lists only earlier leaves that are not erase
// leaves, and no leaf is listed twice across all erase leaves. Erased
// versions keep their metadata rows (type, id, vid, lastUpdated, op, index,
// prev) so chains stay checkable.
//
// # Tree, storage and proofs
//
// The tree is RFC 6962 (https://www.rfc-editor.org/rfc/rfc6962, section
// 2.1), built with github.com/transparency-dev/merkle compact ranges. Every
// complete subtree node, level 0 (leaf hashes) included, is stored once as
// an append-only row; the head row holds the size, the root and the compact
// range, so an Appender resumes in O(log n). Appender works inside the
// store's grouped write transactions with cheap Snapshot/Restore per
// savepoint. Inclusion and consistency proofs (RFC 6962, sections 2.1.1 and
// 2.1.2) and past roots are computed from stored nodes, recomputing the one
// ephemeral node on the right border.
//
// # Checkpoints and tiles
//
// Checkpoints follow C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint):
// "origin\nsize\nbase64(root)\n", signed as a note
// (https://c2sp.org/signed-note, golang.org/x/mod/sumdb/note) with an
// Ed25519 key whose name is the origin. The origin is the base URL without
// scheme or trailing slashes (see Origin). Tiles and entry bundles follow
// C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tile/<L>/<N>[.p/<W>] of 256
// hashes at tree level 8*L, and tile/entries/<N>[.p/<W>] of uint16
// length-prefixed leaves.
package ledger
