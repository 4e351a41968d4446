// Package openapi derives the OpenAPI 3.1 schemas of fhirseal's API from the
// R4 StructureDefinitions: one schema per resource and data type, with the
// JSON form FHIR uses (choice elements expanded, arrays for repeating
// elements, primitives as JSON strings, numbers or booleans, and the "_name"
// siblings that carry a primitive's id and extensions).
//
// The schemas describe shape only; fhirseal's validator (package fhir) is
// what decides whether a resource is valid.
package openapi

import (
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fhirseal/fhirseal/fhir"
)

// FHIRJSON is the media type of every body.
const FHIRJSON = "application/fhir+json"

// Ref returns the schema reference of a type.
func Ref(typ string) string { return "#/components/schemas/" + typ }

// AddSchemas adds a schema for every type of the R4 tables to the
// document's components.
func AddSchemas(doc *huma.OpenAPI) {
	m := doc.Components.Schemas.Map()
	b := &builder{schemas: m, backbone: map[int32]string{}}
	for _, t := range fhir.Types() {
		if t.Kind == fhir.KindPrimitive {
			continue
		}
		s := b.objectSchema(fhir.Children(t.RootElement(), t.Name))
		s.Description = "FHIR R4 " + t.Name
		if t.Kind == fhir.KindResource && !t.Abstract {
			s.Properties["resourceType"] = &huma.Schema{Type: "string", Enum: []any{t.Name}}
			s.Required = append([]string{"resourceType"}, s.Required...)
		}
		m[t.Name] = s
	}
	m["Resource"] = &huma.Schema{Type: "object", Description: "Any FHIR R4 resource", Required: []string{"resourceType"},
		Properties: map[string]*huma.Schema{"resourceType": {Type: "string"}}, AdditionalProperties: true}
}

// Content returns a request or response body of the given type.
func Content(typ string) map[string]*huma.MediaType {
	return map[string]*huma.MediaType{FHIRJSON: {Schema: &huma.Schema{Ref: Ref(typ)}}}
}

// builder names backbone elements as schemas of their own
// ("Questionnaire_item"), which also ends the recursion of content
// references such as Questionnaire.item.item.
type builder struct {
	schemas  map[string]*huma.Schema
	backbone map[int32]string // first child index -> schema name
}

func (b *builder) objectSchema(kids []int32) *huma.Schema {
	s := &huma.Schema{Type: "object", Properties: map[string]*huma.Schema{}, AdditionalProperties: false}
	for _, k := range kids {
		e := fhir.ElementAt(k)
		types := e.Types
		if len(types) == 0 {
			types = []string{"BackboneElement"}
		}
		for _, typ := range types {
			name := e.Name
			if e.Choice {
				name = fhir.ChoiceName(e.Name, typ)
			}
			v := b.valueSchema(e, typ)
			if e.Array {
				v = &huma.Schema{Type: "array", Items: v}
			}
			s.Properties[name] = v
			if td := fhir.Type(typ); td != nil && td.Kind == fhir.KindPrimitive {
				ext := &huma.Schema{Ref: Ref("Element")}
				if e.Array {
					ext = &huma.Schema{Type: "array", Items: ext}
				}
				s.Properties["_"+name] = ext
			}
		}
		if e.Min > 0 && !e.Choice {
			s.Required = append(s.Required, e.Name)
		}
	}
	return s
}

func (b *builder) valueSchema(e *fhir.Element, typ string) *huma.Schema {
	if len(e.Kids) > 0 {
		name, ok := b.backbone[e.Kids[0]]
		if !ok {
			name = strings.ReplaceAll(strings.TrimSuffix(fhir.ElementAt(e.Kids[0]).Path[:strings.LastIndex(fhir.ElementAt(e.Kids[0]).Path, ".")], "[x]"), ".", "_")
			b.backbone[e.Kids[0]] = name
			b.schemas[name] = b.objectSchema(e.Kids)
		}
		return &huma.Schema{Ref: Ref(name)}
	}
	switch typ {
	case "boolean":
		return &huma.Schema{Type: "boolean"}
	case "integer", "unsignedInt", "positiveInt":
		return &huma.Schema{Type: "integer"}
	case "decimal":
		return &huma.Schema{Type: "number"}
	case "Resource":
		return &huma.Schema{Ref: Ref("Resource")}
	}
	td := fhir.Type(typ)
	if td == nil || td.Kind == fhir.KindPrimitive || typ == "xhtml" {
		s := &huma.Schema{Type: "string"}
		if td != nil && td.Regex != "" {
			s.Pattern = "^(" + td.Regex + ")$"
		}
		return s
	}
	return &huma.Schema{Ref: Ref(typ)}
}
