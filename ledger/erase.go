package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// EncodeErasure returns the canonical body of an erase entry: the erased
// leaf indices in strictly increasing order, each in decimal without leading
// zeros and followed by "\n". For example, erasing leaves 7, 3 and 12 gives
// "3\n7\n12\n". The erase entry's BodyHash is BodyHash of these bytes.
//
// EncodeErasure sorts a copy of indices; an empty list or a repeated index
// is an error, since an erasure that names no leaf, or one leaf twice, is a
// bug in the caller.
func EncodeErasure(indices []uint64) ([]byte, error) {
	if len(indices) == 0 {
		return nil, errors.New("ledger: erasure lists no index")
	}
	s := slices.Clone(indices)
	slices.Sort(s)
	b := make([]byte, 0, len(s)*8)
	for i, x := range s {
		if i > 0 && s[i-1] == x {
			return nil, fmt.Errorf("ledger: erasure lists index %d twice", x)
		}
		b = strconv.AppendUint(b, x, 10)
		b = append(b, '\n')
	}
	return b, nil
}

var errErasure = errors.New("ledger: malformed erasure list")

// ParseErasure parses the canonical erased-index list written by
// EncodeErasure. It accepts nothing else: any other spelling of the same list
// would hash differently, so a verifier must not accept it.
func ParseErasure(body []byte) ([]uint64, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, errErasure
	}
	var out []uint64
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		body = rest
		if len(line) == 0 || len(line) > 20 || line[0] == '0' && len(line) > 1 {
			return nil, errErasure
		}
		x, err := strconv.ParseUint(string(line), 10, 64)
		if err != nil || len(out) > 0 && x <= out[len(out)-1] {
			return nil, errErasure
		}
		out = append(out, x)
	}
	return out, nil
}
