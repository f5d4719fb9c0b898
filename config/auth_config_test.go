package config

import (
	"strings"
	"testing"

	"github.com/junction-wamp/junction/router"
)

// TestPrincipalCRASalting: salt parameters without a secret, or that PBKDF2
// cannot use, are refused with their keys.
func TestPrincipalCRASalting(t *testing.T) {
	t.Parallel()
	const realm = "[[realms]]\nname = \"r\"\nauth = [\"wampcra\"]\n[[realms.principals]]\nauthid = \"a\"\nrole = \"r\"\n"
	for _, tt := range []struct {
		name, principal, want string
	}{
		{"salt without a secret", "salt = \"pepper\"", "realms[0].principals[0].salt"},
		{"negative iterations", "secret = \"s\"\nsalt = \"pepper\"\niterations = -1", "realms[0].principals[0].iterations = -1"},
		{"negative keylen", "secret = \"s\"\nsalt = \"pepper\"\nkeylen = -1", "realms[0].principals[0].keylen = -1"},
		{"huge keylen", "secret = \"s\"\nsalt = \"pepper\"\nkeylen = 1099511627776", "realms[0].principals[0].keylen = 1099511627776"},
	} {
		_, err := Load(writeConfig(t, realm+tt.principal))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
	c, err := Load(writeConfig(t, realm+"secret = \"s\"\nsalt = \"pepper\"\niterations = 10\nkeylen = 64"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := router.New(c.Router, router.Options{}); err != nil {
		t.Fatalf("a salted principal: %v", err)
	}
}
