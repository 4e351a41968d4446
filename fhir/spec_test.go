package fhir

import "testing"

func TestTypeTable(t *testing.T) {
	for i := range specTypes {
		if got := Type(specTypes[i].Name); got != &specTypes[i] {
			t.Errorf("Type(%q) = %v, want the table's entry", specTypes[i].Name, got)
		}
	}
	for _, name := range []string{"", "patient", "Patient ", "Patien", "X", "BackboneElementX", "string\x00"} {
		if got := Type(name); got != nil {
			t.Errorf("Type(%q) = %v, want nil", name, got.Name)
		}
	}
}
