package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/wamp"
)

// principalConfig is a [[realms.principals]] entry. Secrets can stay out of
// the file: ticket_env / secret_env name an environment variable, ticket_file
// / secret_file a file whose content (trimmed) is the secret.
type principalConfig struct {
	AuthID     string `mapstructure:"authid"`
	Role       string `mapstructure:"role"`
	Ticket     string `mapstructure:"ticket"`
	TicketEnv  string `mapstructure:"ticket_env"`
	TicketFile string `mapstructure:"ticket_file"`
	// TicketExpires is an RFC 3339 time after which the ticket is refused.
	TicketExpires string   `mapstructure:"ticket_expires"`
	Secret        string   `mapstructure:"secret"`
	SecretEnv     string   `mapstructure:"secret_env"`
	SecretFile    string   `mapstructure:"secret_file"`
	Salt          string   `mapstructure:"salt"`
	Iterations    int      `mapstructure:"iterations"`
	KeyLen        int      `mapstructure:"keylen"`
	PublicKeys    []string `mapstructure:"public_keys"`
}

// roleConfig is a [[realms.roles]] entry.
type roleConfig struct {
	Name        string `mapstructure:"name"`
	Permissions []struct {
		URI               string `mapstructure:"uri"`
		Match             string `mapstructure:"match"`
		Call              bool   `mapstructure:"call"`
		Register          bool   `mapstructure:"register"`
		Publish           bool   `mapstructure:"publish"`
		Subscribe         bool   `mapstructure:"subscribe"`
		DiscloseCaller    bool   `mapstructure:"disclose_caller"`
		DisclosePublisher bool   `mapstructure:"disclose_publisher"`
	} `mapstructure:"permissions"`
}

// maxCRAKeyLen bounds a salted WAMP-CRA key's length: PBKDF2 makes it at
// start, in memory, and a longer key than a few hash blocks adds nothing.
const maxCRAKeyLen = 1024

// checkCRASalting checks a principal's WAMP-CRA salt parameters: they salt
// a secret, and must be ones PBKDF2 can derive a key with.
func checkCRASalting(pkey string, p router.Principal, bad func(string, any, string)) {
	if p.Secret == "" && (p.Salt != "" || p.Iterations != 0 || p.KeyLen != 0) {
		bad(pkey+".salt", strconv.Quote(p.Salt), "salt, iterations and keylen salt a WAMP-CRA secret: set secret (or secret_env, secret_file) too")
	}
	if p.Iterations < 0 {
		bad(pkey+".iterations", p.Iterations, "want 0 (the default, 1000) or more")
	}
	if p.KeyLen < 0 || p.KeyLen > maxCRAKeyLen {
		bad(pkey+".keylen", p.KeyLen, fmt.Sprintf("want 0 (the default, 32) to %d bytes", maxCRAKeyLen))
	}
}

// secretFrom returns the one of value, env var and file that is set.
func secretFrom(key, value, env, file string, bad func(key string, value any, why string)) string {
	set := 0
	for _, s := range []string{value, env, file} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		bad(key, "", "set only one of the value, _env and _file forms")
		return ""
	}
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			bad(key+"_env", strconv.Quote(env), "the environment variable is not set")
		}
		return v
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			bad(key+"_file", strconv.Quote(file), err.Error())
		}
		return strings.TrimSpace(string(b))
	}
	return value
}

// resolveAuth converts a realm's authentication and authorization settings.
func resolveAuth(key string, methods []string, principals []principalConfig, roles []roleConfig, rc *router.RealmConfig, bad func(string, any, string)) {
	for _, m := range methods {
		switch router.AuthMethod(m) {
		case router.AuthAnonymous:
			rc.Anonymous = true
		case router.AuthTicket, router.AuthWAMPCRA, router.AuthCryptosign, router.AuthTLS:
			rc.AuthMethods = append(rc.AuthMethods, router.AuthMethod(m))
		default:
			bad(key+".auth", strconv.Quote(m), `unsupported authentication method; supported: "anonymous", "ticket", "wampcra", "cryptosign", "tls"`)
		}
	}
	for i, p := range principals {
		pkey := fmt.Sprintf("%s.principals[%d]", key, i)
		if p.AuthID == "" || p.Role == "" {
			bad(pkey, p.AuthID, "every principal needs an authid and a role")
		}
		var expires time.Time
		if p.TicketExpires != "" {
			t, err := time.Parse(time.RFC3339, p.TicketExpires)
			if err != nil {
				bad(pkey+".ticket_expires", strconv.Quote(p.TicketExpires), `want an RFC 3339 time such as "2027-01-31T00:00:00Z"`)
			}
			expires = t
		}
		principal := router.Principal{
			AuthID: p.AuthID, Role: p.Role, TicketExpires: expires,
			Ticket:     secretFrom(pkey+".ticket", p.Ticket, p.TicketEnv, p.TicketFile, bad),
			Secret:     secretFrom(pkey+".secret", p.Secret, p.SecretEnv, p.SecretFile, bad),
			Salt:       p.Salt,
			Iterations: p.Iterations,
			KeyLen:     p.KeyLen,
			PublicKeys: p.PublicKeys,
		}
		checkCRASalting(pkey, principal, bad)
		rc.Principals = append(rc.Principals, principal)
	}
	for _, r := range roles {
		role := router.RoleConfig{Name: r.Name}
		for _, perm := range r.Permissions {
			role.Permissions = append(role.Permissions, router.Permission{
				URI: perm.URI, Match: wamp.MatchPolicy(perm.Match), Call: perm.Call, Register: perm.Register, Publish: perm.Publish,
				Subscribe: perm.Subscribe, DiscloseCaller: perm.DiscloseCaller, DisclosePublisher: perm.DisclosePublisher,
			})
		}
		rc.Roles = append(rc.Roles, role)
	}
}
