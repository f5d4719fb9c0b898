package wamp

import (
	"errors"
	"testing"
)

func TestValidURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri                         URI
		loose, strict, looseEmpties bool
	}{
		{"com.example.add2", true, true, true},
		{"com.Example.Add-2", true, false, true},
		{"com.example..x", false, false, true},
		{".com.example", false, false, true},
		{"com.exa mple", false, false, false},
		{"com.example#1", false, false, false},
		{"", false, false, false},
		{"wamp.error.no_such_procedure", true, true, true},
		{"ünï.cödé", true, false, true},
	}
	for _, tt := range tests {
		if got := ValidURI(tt.uri, false, false); got != tt.loose {
			t.Errorf("loose %q = %v", tt.uri, got)
		}
		if got := ValidURI(tt.uri, true, false); got != tt.strict {
			t.Errorf("strict %q = %v", tt.uri, got)
		}
		if got := ValidURI(tt.uri, false, true); got != tt.looseEmpties {
			t.Errorf("loose with empty components %q = %v", tt.uri, got)
		}
	}
}

func TestReserved(t *testing.T) {
	t.Parallel()
	for u, want := range map[URI]bool{
		"wamp": true, "wamp.session.on_join": true, "wamp.": true, "wamp..kill": true,
		"wampy.x": false, "com.wamp": false, "wam": false, ".wamp": false, "": false,
	} {
		if got := Reserved(u); got != want {
			t.Errorf("Reserved(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	for range 10000 {
		if id := GlobalID(); !id.Valid() {
			t.Fatalf("GlobalID %d outside [1, 2^53]", id)
		}
	}
	var s Sequence
	if s.Next() != 1 || s.Next() != 2 {
		t.Fatal("sequence does not start at 1")
	}
	s.n.Store(uint64(MaxID))
	if got := s.Next(); got != 1 {
		t.Fatalf("sequence after 2^53 = %d, want 1", got)
	}
	if ID(0).Valid() || (MaxID + 1).Valid() || !MaxID.Valid() {
		t.Fatal("Valid bounds")
	}
}

func TestDictAccessors(t *testing.T) {
	t.Parallel()
	d := Dict{"b": true, "s": "x", "f": float64(3), "u": uint64(1 << 53), "m": map[string]any{"k": 1}, "bad": 2.5}
	if !d.Bool("b", false) || d.Bool("s", false) || d.String("s") != "x" || d.Dict("m")["k"] != 1 {
		t.Fatal("accessors")
	}
	if n, ok := d.Int("f"); !ok || n != 3 {
		t.Fatal("float64 3 is an int")
	}
	if _, ok := d.Int("bad"); ok {
		t.Fatal("2.5 is not an int")
	}
	if id, ok := AsID(d["u"]); !ok || id != MaxID {
		t.Fatal("AsID")
	}
}

func TestRPCErrorIs(t *testing.T) {
	t.Parallel()
	err := error(NewError(ErrNoSuchProcedure, "nobody"))
	if !errors.Is(err, &RPCError{URI: ErrNoSuchProcedure}) || errors.Is(err, &RPCError{URI: ErrCanceled}) {
		t.Fatal("errors.Is by URI")
	}
	if err.Error() != "wamp.error.no_such_procedure: nobody" {
		t.Fatal(err.Error())
	}
}
