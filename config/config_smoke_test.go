package config

import "testing"

func TestDefaultValidates(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	n := c.Matters.Count()
	if n["12345->110"] != 62 || n["110->12345"] != 68 {
		t.Fatalf("matters rows per direction = %v, want 62 and 68", n)
	}
}

func TestParseReportsKeyAndLine(t *testing.T) {
	_, err := Parse("x.yaml", []byte("ari:\n  application: \"\"\n  bogus: 1\n"))
	if err == nil {
		t.Fatal("want error")
	}
	ps, ok := err.(Problems)
	if !ok || len(ps) == 0 || ps[0].Line != 3 {
		t.Fatalf("got %#v", err)
	}
}
