package search

import (
	"fmt"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// SortKey is one key of _sort (R4 search.html#sort).
type SortKey struct {
	Param string // parameter code; "_id" and "_lastUpdated" sort by the resource's own id and version time
	Kind  Kind   // 0 for _id
	Desc  bool
}

// ParseSort parses a _sort value for resources of type typ ("" or
// "Resource" for a system search): comma-separated parameter codes, each
// with an optional "-" for descending order. Composite and special
// parameters do not sort (ErrUnsupported); a code the type does not have
// is ErrUnknownParam.
func ParseSort(typ, raw string) ([]SortKey, error) {
	if typ == "" {
		typ = "Resource"
	}
	var keys []SortKey
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		k := SortKey{}
		if name, ok := strings.CutPrefix(f, "-"); ok {
			k.Desc, f = true, name
		}
		if f == "" {
			return nil, fmt.Errorf("%w: empty _sort key", ErrUnknownParam)
		}
		k.Param = f
		if f != "_id" {
			p := Param(typ, f)
			if p == nil {
				return nil, fmt.Errorf("%w: _sort=%s", ErrUnknownParam, f)
			}
			if k.Kind = KindOf(p.Type); k.Kind == 0 || p.Expression == "" {
				return nil, fmt.Errorf("%w: _sort on %s parameter %s", ErrUnsupported, p.Type, f)
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// String formats keys as a _sort value.
func FormatSort(keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Param
		if k.Desc {
			parts[i] = "-" + k.Param
		}
	}
	return strings.Join(parts, ",")
}

// Include is one _include or _revinclude (R4 search.html#include).
//
// _include follows Source's reference parameter Param from the resources
// found to the resources they refer to; _revinclude finds the resources of
// type Source that refer to the resources found through Param. Param "*"
// means every reference parameter (and Source "" every type). Target, when
// set, keeps only referenced (or, for _revinclude, found) resources of that
// type. Iterate applies the include to included resources too, until
// nothing new is found.
type Include struct {
	Rev     bool
	Iterate bool
	Source  string
	Param   string
	Target  string
}

// ParseInclude parses one _include or _revinclude parameter: name is
// "_include", "_revinclude", with ":iterate" (or R3's ":recurse"); raw is
// "*", "Type:param", "Type:param:TargetType" or "Type:*".
func ParseInclude(name, raw string) (Include, error) {
	base, mod, _ := strings.Cut(name, ":")
	inc := Include{}
	switch base {
	case "_include":
	case "_revinclude":
		inc.Rev = true
	default:
		return inc, fmt.Errorf("%w: %s", ErrUnknownParam, name)
	}
	switch mod {
	case "":
	case "iterate", "recurse":
		inc.Iterate = true
	default:
		return inc, fmt.Errorf("%w: %s", ErrUnsupported, name)
	}
	if raw == "*" {
		inc.Param = "*"
		return inc, nil
	}
	parts := strings.Split(raw, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return inc, fmt.Errorf("%s=%s: want Type:parameter or Type:parameter:TargetType", name, raw)
	}
	inc.Source, inc.Param = parts[0], parts[1]
	if !fhir.IsResourceType(inc.Source) {
		return inc, fmt.Errorf("%s=%s: %s is not a resource type", name, raw, inc.Source)
	}
	if len(parts) == 3 {
		inc.Target = parts[2]
		if !fhir.IsResourceType(inc.Target) {
			return inc, fmt.Errorf("%s=%s: %s is not a resource type", name, raw, inc.Target)
		}
	}
	if inc.Param == "*" {
		return inc, nil
	}
	p := Param(inc.Source, inc.Param)
	if p == nil || KindOf(p.Type) != Reference {
		return inc, fmt.Errorf("%w: %s is not a reference parameter of %s", ErrUnknownParam, inc.Param, inc.Source)
	}
	if inc.Target != "" && len(p.Targets) > 0 && !containsType(p.Targets, inc.Target) {
		return inc, fmt.Errorf("%s=%s: %s.%s never refers to %s", name, raw, inc.Source, inc.Param, inc.Target)
	}
	return inc, nil
}

func containsType(targets []string, t string) bool {
	for _, x := range targets {
		if x == t || x == "Resource" {
			return true
		}
	}
	return false
}

// String formats inc as its query parameter value.
func (inc Include) String() string {
	if inc.Source == "" {
		return inc.Param
	}
	s := inc.Source + ":" + inc.Param
	if inc.Target != "" {
		s += ":" + inc.Target
	}
	return s
}
