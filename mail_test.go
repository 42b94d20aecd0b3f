package facet_test

import (
	"strings"
	"testing"

	"github.com/humaninsight/facet"
)

func TestMailValidate(t *testing.T) {
	ok := facet.Mail{To: "dana@research.example", Subject: "Your invitation to facet", Text: "Open https://facet.example/app/signup#t to join.\r\n", HTML: "<p>Open the link.</p>"}
	with := func(f func(*facet.Mail)) facet.Mail {
		m := ok
		f(&m)
		return m
	}
	cases := []struct {
		name string
		m    facet.Mail
		ok   bool
	}{
		{"valid", ok, true},
		{"no HTML", with(func(m *facet.Mail) { m.HTML = "" }), true},
		{"subject of 200 characters", with(func(m *facet.Mail) { m.Subject = strings.Repeat("ü", 200) }), true},
		{"plus address, subdomain", with(func(m *facet.Mail) { m.To = "dana.demo+facet@mail.research.example" }), true},
		{"non-ASCII local part", with(func(m *facet.Mail) { m.To = "jürgen@research.example" }), true},
		{"body at the limit", with(func(m *facet.Mail) {
			m.Text, m.HTML = strings.Repeat("x", facet.MaxMailBody/2), strings.Repeat("y", facet.MaxMailBody/2)
		}), true},

		{"no recipient", with(func(m *facet.Mail) { m.To = "" }), false},
		{"not an address", with(func(m *facet.Mail) { m.To = "dana" }), false},
		{"no domain", with(func(m *facet.Mail) { m.To = "dana@" }), false},
		{"no local part", with(func(m *facet.Mail) { m.To = "@research.example" }), false},
		{"undotted domain", with(func(m *facet.Mail) { m.To = "dana@localhost" }), false},
		{"trailing dot", with(func(m *facet.Mail) { m.To = "dana@research.example." }), false},
		{"double dot", with(func(m *facet.Mail) { m.To = "dana@research..example" }), false},
		{"address literal", with(func(m *facet.Mail) { m.To = "dana@[192.0.2.1]" }), false},
		{"quoted local part", with(func(m *facet.Mail) { m.To = `"dana"@research.example` }), false},
		{"display name", with(func(m *facet.Mail) { m.To = "Dana <dana@research.example>" }), false},
		{"angle brackets", with(func(m *facet.Mail) { m.To = "<dana@research.example>" }), false},
		{"two addresses", with(func(m *facet.Mail) { m.To = "dana@research.example,eve@evil.example" }), false},
		{"group", with(func(m *facet.Mail) { m.To = "team:dana@research.example;" }), false},
		{"header injection in the address", with(func(m *facet.Mail) { m.To = "dana@research.example\r\nBcc: eve@evil.example" }), false},
		{"LF in the address", with(func(m *facet.Mail) { m.To = "dana@research.example\n" }), false},
		{"address too long", with(func(m *facet.Mail) { m.To = strings.Repeat("a", 250) + "@x.example" }), false},
		{"no subject", with(func(m *facet.Mail) { m.Subject = " " }), false},
		{"header injection in the subject", with(func(m *facet.Mail) { m.Subject = "Hello\r\nBcc: eve@evil.example" }), false},
		{"LF in the subject", with(func(m *facet.Mail) { m.Subject = "Hello\nthere" }), false},
		{"NUL in the subject", with(func(m *facet.Mail) { m.Subject = "Hello\x00" }), false},
		{"line separator in the subject", with(func(m *facet.Mail) { m.Subject = "Hello\u2028there" }), false},
		{"subject of 201 characters", with(func(m *facet.Mail) { m.Subject = strings.Repeat("s", 201) }), false},
		{"no text", with(func(m *facet.Mail) { m.Text = "\n" }), false},
		{"body over the limit", with(func(m *facet.Mail) {
			m.Text, m.HTML = strings.Repeat("x", facet.MaxMailBody/2), strings.Repeat("y", facet.MaxMailBody/2+1)
		}), false},
		{"invalid UTF-8 text", with(func(m *facet.Mail) { m.Text = "bad \xff byte" }), false},
		{"invalid UTF-8 HTML", with(func(m *facet.Mail) { m.HTML = "\xc3" }), false},
	}
	for _, c := range cases {
		err := c.m.Validate()
		if c.ok && err != nil {
			t.Errorf("%s: Validate = %v, want nil", c.name, err)
		}
		if !c.ok && facet.ErrorCode(err) != facet.EInvalid {
			t.Errorf("%s: Validate = %v, want code %q", c.name, err, facet.EInvalid)
		}
		if err != nil && c.m.To != "" && strings.Contains(err.Error(), c.m.To) {
			t.Errorf("%s: the message %q repeats the address", c.name, err)
		}
	}
}
