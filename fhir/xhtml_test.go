package fhir

import (
	"os"
	"testing"
	"unicode/utf8"

	"github.com/fhirseal/fhirseal/internal/corpus"
)

// The fast narrative check may only say "clean" when the full check with
// encoding/xml finds nothing; everything else it leaves to the full check.

const ns = ` xmlns="http://www.w3.org/1999/xhtml"`

var xhtmlCases = []struct {
	s     string
	clean bool
}{
	{`<div` + ns + `>hello</div>`, true},
	{`<div` + ns + `><p>a &lt; b &amp;&gt; &quot;&apos; &#160;&#x41;</p><br/><img src="#x"/></div>`, true},
	{`<div` + ns + `><!-- note -->text</div>`, true},
	{`<div` + ns + ` xml:lang="en" lang="en"><span class='c' title="a]]>b">x</span ></div>`, true},
	{`<div` + ns + `>` + "\t\r\n é</div>", true},
	{`<div` + ns + `><img src="data:image/png;base64,AAAA"/></div>`, true},
	{`<div` + ns + `><a href="http://example.org/">x</a></div>`, true},
	{"text without markup", true},

	{`<div` + ns + `>   </div>`, false},     // txt-2
	{`<div` + ns + `>&#160;</div>`, false},  // only white space
	{`<div` + ns + `>&nbsp;</div>`, false},  // HTML entity
	{`<div` + ns + `>&#0;</div>`, false},    // not a character
	{`<div` + ns + `>&#xD800;</div>`, true}, // encoding/xml reads U+FFFD
	{`<div` + ns + `><a href="?a=1&amp;b=2">x</a></div>`, true},
	{`<div` + ns + `><a href="&#106;avascript:x">x</a></div>`, false}, // script URL
	{`<div` + ns + `><img src="&#x68;ttp://example.org/x.png"/></div>`, false},
	{"<div xmlns=\"http://www.w3.org/1999/xhtml\r\">x</div>", false},
	{`<div` + ns + `>a]]>b</div>`, false},                                 // ]]> in text
	{`<div` + ns + `><script>x</script></div>`, false},                    // element
	{`<div` + ns + `><p onclick="x">x</p></div>`, false},                  // event handler
	{`<div` + ns + `><p ONCLICK="x">x</p></div>`, false},                  // event handler
	{`<div` + ns + `><a href=" JavaScript:x">x</a></div>`, false},         // script URL
	{`<div` + ns + `><img src="http://example.org/x.png"/></div>`, false}, // external image
	{`<div` + ns + `><img src="//example.org/x.png"/></div>`, false},
	{`<div` + ns + `><p>x</div>`, false},                     // mismatched end
	{`<div` + ns + `><p>x</p>`, false},                       // unclosed
	{`<div>x</div>`, false},                                  // no namespace
	{`<p` + ns + `>x</p>`, false},                            // root not a div
	{`<div` + ns + `><p title=x>x</p></div>`, false},         // unquoted
	{`<div` + ns + `><p title="a<b">x</p></div>`, false},     // < in value
	{`<div` + ns + `><p title>x</p></div>`, false},           // no value
	{`<div` + ns + `><!-- a -- b -->x</div>`, false},         // -- in comment
	{`<div` + ns + `><![CDATA[x]]></div>`, false},            // left to encoding/xml
	{`<?xml version="1.0"?><div` + ns + `>x</div>`, false},   // processing instruction
	{`<div` + ns + `><x:p xmlns:x="y">x</x:p></div>`, false}, // prefixed name
	{`<div` + ns + `>` + "\x01" + `</div>`, false},           // control character
	{`<div` + ns + "\u00e9>x</div>", false},                  // non-ASCII in a name
	{`<div` + ns + `>x</div` + "\uFFFE", false},
	{`<div` + ns + `>x<`, false},
	{`<div` + ns + `>x</`, false},
	{`<div` + ns + `>x<!--`, false},
}

func TestXHTMLClean(t *testing.T) {
	for _, c := range xhtmlCases {
		got := xhtmlClean(c.s)
		if got != c.clean {
			t.Errorf("xhtmlClean(%q) = %v, want %v (full check: %q)", c.s, got, c.clean, xhtmlProblems(c.s))
		}
		if probs := xhtmlProblems(c.s); got && len(probs) > 0 {
			t.Errorf("xhtmlClean(%q) = true, but the full check finds %q", c.s, probs)
		}
	}
}

// TestXHTMLCleanExamples compares the two checks on every narrative of the
// R4 examples.
func TestXHTMLCleanExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	var divs []string
	for _, f := range corpus.Examples(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := Parse(data, Limits{})
		if n != nil {
			divs = collectDivs(n, divs)
		}
	}
	fast, full := 0, 0
	for _, s := range divs {
		clean := xhtmlClean(s)
		probs := xhtmlProblems(s)
		if clean && len(probs) > 0 {
			t.Errorf("xhtmlClean(%q) = true, but the full check finds %q", abbreviate(s), probs)
		}
		if clean {
			fast++
		} else if len(probs) == 0 {
			full++
		}
	}
	t.Logf("%d narratives: %d clean by the fast check, %d more by the full check", len(divs), fast, full)
	if fast < 9*len(divs)/10 {
		t.Errorf("the fast check leaves %d of %d narratives to encoding/xml", len(divs)-fast, len(divs))
	}
}

func collectDivs(n *Node, out []string) []string {
	if n.Type == "xhtml" && n.Kind == StringValue {
		out = append(out, n.Value)
	}
	for _, f := range n.Fields {
		for _, c := range f.Nodes {
			out = collectDivs(c, out)
		}
	}
	return out
}

func FuzzXHTMLClean(f *testing.F) {
	for _, c := range xhtmlCases {
		f.Add(c.s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		if xhtmlClean(s) {
			if probs := xhtmlProblems(s); len(probs) > 0 {
				t.Errorf("xhtmlClean(%q) = true, but the full check finds %q", s, probs)
			}
		}
	})
}
