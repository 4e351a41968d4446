package normalize

// Canonical URIs of the code systems this package knows by other names.
// https://hl7.org/fhir/R4/terminologies-systems.html lists them with their
// OIDs; terminology.hl7.org's external code system page agrees.
const (
	LOINC    = "http://loinc.org"
	SNOMED   = "http://snomed.info/sct"
	RxNorm   = "http://www.nlm.nih.gov/research/umls/rxnorm"
	ICD10CM  = "http://hl7.org/fhir/sid/icd-10-cm"
	ICD10    = "http://hl7.org/fhir/sid/icd-10"
	ICD9CM   = "http://hl7.org/fhir/sid/icd-9-cm"
	CPT      = "http://www.ama-assn.org/go/cpt"
	CVX      = "http://hl7.org/fhir/sid/cvx"
	NDC      = "http://hl7.org/fhir/sid/ndc"
	UCUM     = "http://unitsofmeasure.org"
	NUCC     = "http://nucc.org/provider-taxonomy"
	V2Prefix = "http://terminology.hl7.org/CodeSystem/v2-"

	identifierTypeSystem = "http://terminology.hl7.org/CodeSystem/v2-0203"
)

// externalSystem is a code system defined outside FHIR, with the OIDs,
// names and variant URIs that senders use for it.
type externalSystem struct {
	url   string
	oids  []string
	names []string // bare names (HL7 v2 table 0396 codes and common spellings); compared ignoring case, spaces, '-' and '_'
	uris  []string // variant URIs; compared ignoring case, scheme (http/https), "www." and a trailing slash
}

var externalSystems = []externalSystem{
	{LOINC, []string{"2.16.840.1.113883.6.1"}, []string{"LN", "LOINC"},
		[]string{"http://loinc.org/", "https://loinc.org", "http://www.loinc.org", "http://loinc.org/loinc"}},
	{SNOMED, []string{"2.16.840.1.113883.6.96"}, []string{"SCT", "SNOMED", "SNOMEDCT", "SNOMED CT", "SNOMED-CT", "SNOMEDCT_US", "SNOMED CT US"},
		[]string{"http://snomed.info/sct/", "http://snomed.info", "http://www.snomed.org", "http://snomed.org/sct", "http://ihtsdo.org/snomedct"}},
	{RxNorm, []string{"2.16.840.1.113883.6.88"}, []string{"RXNORM", "RXN", "RX NORM"},
		[]string{"http://www.nlm.nih.gov/research/umls/rxnorm/", "http://nlm.nih.gov/research/umls/rxnorm", "http://www.nlm.nih.gov/rxnorm"}},
	{ICD10CM, []string{"2.16.840.1.113883.6.90"}, []string{"ICD10CM", "ICD-10-CM", "I10C", "ICD10 CM"},
		[]string{"http://hl7.org/fhir/sid/icd-10-cm/", "http://www.cms.gov/Medicare/Coding/ICD10", "http://www.icd10data.com/icd10cm", "http://hl7.org/fhir/sid/icd10cm"}},
	{ICD10, []string{"2.16.840.1.113883.6.3"}, []string{"ICD10", "ICD-10", "I10", "ICD10WHO"},
		[]string{"http://hl7.org/fhir/sid/icd-10/", "http://hl7.org/fhir/sid/icd10", "http://who.int/icd10", "http://id.who.int/icd10"}},
	{ICD9CM, []string{"2.16.840.1.113883.6.2", "2.16.840.1.113883.6.103"}, []string{"ICD9CM", "ICD-9-CM", "I9C", "I9CDX"},
		[]string{"http://hl7.org/fhir/sid/icd-9-cm/", "http://hl7.org/fhir/sid/icd9cm"}},
	{CPT, []string{"2.16.840.1.113883.6.12"}, []string{"CPT", "CPT4", "CPT-4", "C4"},
		[]string{"http://www.ama-assn.org/go/cpt/", "http://ama-assn.org/go/cpt", "http://www.ama-assn.org/cpt"}},
	{CVX, []string{"2.16.840.1.113883.12.292"}, []string{"CVX"},
		[]string{"http://hl7.org/fhir/sid/cvx/", "http://www2a.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx", "http://www2.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx", "http://hl7.org/fhir/v2/0292"}},
	{NDC, []string{"2.16.840.1.113883.6.69"}, []string{"NDC"},
		[]string{"http://hl7.org/fhir/sid/ndc/", "http://www.fda.gov/Drugs/InformationOnDrugs", "http://www.fda.gov/ndc"}},
	{UCUM, []string{"2.16.840.1.113883.6.8"}, []string{"UCUM"},
		[]string{"http://unitsofmeasure.org/", "http://unitsofmeasure.org/ucum", "http://unitsofmeasure.org/ucum.html", "http://aurora.regenstrief.org/ucum"}},
	{NUCC, []string{"2.16.840.1.113883.6.101"}, []string{"NUCC", "HCPTNUCC"},
		[]string{"http://nucc.org/provider-taxonomy/", "http://www.nucc.org/provider-taxonomy", "http://nucc.org/provider_taxonomy"}},
}

// unitAliases maps common non-UCUM unit spellings to UCUM codes. Spellings
// that are valid UCUM for something else ("C" is the coulomb, "F" the farad)
// are left out on purpose.
var unitAliases = map[string]string{
	// concentrations
	"mg/dl": "mg/dL", "MG/DL": "mg/dL", "mg/100ml": "mg/dL", "mg%": "mg/dL",
	"g/dl": "g/dL", "gm/dl": "g/dL", "G/DL": "g/dL",
	"ug/dl": "ug/dL", "mcg/dl": "ug/dL", "mcg/dL": "ug/dL",
	"ng/ml": "ng/mL", "pg/ml": "pg/mL", "ug/ml": "ug/mL", "mcg/ml": "ug/mL", "mcg/mL": "ug/mL",
	"mmol/l": "mmol/L", "MMOL/L": "mmol/L", "umol/l": "umol/L", "µmol/L": "umol/L", "µmol/l": "umol/L",
	"mEq/L": "meq/L", "meq/l": "meq/L", "mEq/l": "meq/L", "MEQ/L": "meq/L",
	"mg/l": "mg/L", "g/l": "g/L", "iu/l": "[IU]/L", "IU/L": "[IU]/L", "IU/mL": "[IU]/mL", "u/l": "U/L",
	// counts
	"10^3/uL": "10*3/uL", "10^3/ul": "10*3/uL", "10*3/ul": "10*3/uL", "x10E3/uL": "10*3/uL", "x10^3/uL": "10*3/uL",
	"K/uL": "10*3/uL", "k/uL": "10*3/uL", "K/ul": "10*3/uL", "thou/uL": "10*3/uL", "10E3/uL": "10*3/uL",
	"10^6/uL": "10*6/uL", "10*6/ul": "10*6/uL", "x10E6/uL": "10*6/uL", "M/uL": "10*6/uL", "mill/uL": "10*6/uL",
	"10^9/L": "10*9/L", "x10*9/L": "10*9/L", "x10E9/L": "10*9/L", "10E9/L": "10*9/L",
	"10^12/L": "10*12/L", "x10*12/L": "10*12/L", "x10E12/L": "10*12/L",
	// pressure, rates
	"mmHg": "mm[Hg]", "mm Hg": "mm[Hg]", "mmhg": "mm[Hg]", "MMHG": "mm[Hg]", "mm(hg)": "mm[Hg]",
	"cmH2O": "cm[H2O]", "cm H2O": "cm[H2O]",
	"bpm": "/min", "beats/min": "/min", "breaths/min": "/min", "BPM": "/min", "per min": "/min", "beats per minute": "/min", "/minute": "/min",
	"ml/hr": "mL/h", "mL/hr": "mL/h", "ml/h": "mL/h", "ml/min": "mL/min",
	"mL/min/1.73m2": "mL/min/{1.73_m2}", "ml/min/1.73m2": "mL/min/{1.73_m2}", "mL/min/1.73 m2": "mL/min/{1.73_m2}",
	// body measures
	"kg/m^2": "kg/m2", "kg/m²": "kg/m2", "KG/M2": "kg/m2",
	"lbs": "[lb_av]", "lb": "[lb_av]", "LBS": "[lb_av]", "pounds": "[lb_av]",
	"oz": "[oz_av]", "ounces": "[oz_av]",
	"in": "[in_i]", "inch": "[in_i]", "inches": "[in_i]", "IN": "[in_i]",
	"ft": "[ft_i]", "feet": "[ft_i]",
	"KG": "kg", "kgs": "kg", "Kg": "kg", "gm": "g", "gms": "g", "grams": "g", "CM": "cm", "MM": "mm",
	// temperature
	"degF": "[degF]", "°F": "[degF]", "deg F": "[degF]", "F°": "[degF]", "DegF": "[degF]",
	"degC": "Cel", "°C": "Cel", "deg C": "Cel", "C°": "Cel", "DegC": "Cel", "cel": "Cel",
	// volume, mass
	"ml": "mL", "cc": "mL", "ML": "mL", "l": "L", "dl": "dL", "mcg": "ug", "µg": "ug", "MCG": "ug", "MG": "mg",
	// time
	"sec": "s", "secs": "s", "seconds": "s", "mins": "min", "minutes": "min",
	"hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"day": "d", "days": "d", "wks": "wk", "week": "wk", "weeks": "wk",
	"month": "mo", "months": "mo", "yr": "a", "yrs": "a", "year": "a", "years": "a",
	// other
	"percent": "%", "pct": "%", "IU": "[IU]", "iu": "[IU]",
}
