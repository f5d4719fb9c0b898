package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// connectTimeout bounds the dial, the transport's handshake (WebSocket or
// RawSocket) and joining the realm.
const connectTimeout = 10 * time.Second

// clientFlags are the flags every client command takes; json is --json,
// which those that print take (addJSON).
type clientFlags struct {
	url, realm, serializer string
	json                   bool
	authID                 string
	ticket, wampcra        secretFlags
	cryptosignKeyFile      string
	cryptosignKeyEnv       string
	tlsCA, tlsCert, tlsKey string
}

// secretFlags are the three ways to give a secret, as in the config file:
// the value, an environment variable holding it, a file holding it.
type secretFlags struct{ value, env, file string }

func (f *clientFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.url, "url", "ws://127.0.0.1:8080/ws", "`URL` of the router: ws:// or wss:// (WebSocket), rs://host:port or rss://host:port (RawSocket over TCP or TLS), unix:///path (RawSocket on a Unix socket)")
	fs.StringVar(&f.realm, "realm", "realm1", "`realm` to join")
	fs.StringVar(&f.serializer, "serializer", "json", "WAMP `serializer`: json, msgpack or cbor")
	fs.StringVar(&f.authID, "authid", "", "authenticate as `authid`")
	fs.StringVar(&f.ticket.value, "ticket", "", "authenticate with this `ticket` (visible to other local users; prefer --ticket-file)")
	fs.StringVar(&f.ticket.env, "ticket-env", "", "authenticate with the ticket in environment `variable`")
	fs.StringVar(&f.ticket.file, "ticket-file", "", "authenticate with the ticket in `file` (trimmed)")
	fs.StringVar(&f.wampcra.value, "wampcra-secret", "", "authenticate with WAMP-CRA and this `secret` (visible to other local users)")
	fs.StringVar(&f.wampcra.env, "wampcra-secret-env", "", "authenticate with WAMP-CRA and the secret in environment `variable`")
	fs.StringVar(&f.wampcra.file, "wampcra-secret-file", "", "authenticate with WAMP-CRA and the secret in `file` (trimmed)")
	fs.StringVar(&f.cryptosignKeyFile, "cryptosign-key-file", "", "authenticate with WAMP-Cryptosign and the Ed25519 private key in `file` (hex: 32-byte seed or 64-byte key)")
	fs.StringVar(&f.cryptosignKeyEnv, "cryptosign-key-env", "", "authenticate with WAMP-Cryptosign and the hex Ed25519 private key in environment `variable`")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "trust the CA certificates in PEM `file` for wss:// and rss:// (default: the system's)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "present the client certificate in PEM `file` (with --tls-key) and offer tls authentication")
	fs.StringVar(&f.tlsKey, "tls-key", "", "private key `file` (PEM) of --tls-cert")
	cmd.MarkFlagsMutuallyExclusive("ticket", "ticket-env", "ticket-file")
	cmd.MarkFlagsMutuallyExclusive("wampcra-secret", "wampcra-secret-env", "wampcra-secret-file")
	cmd.MarkFlagsMutuallyExclusive("cryptosign-key-file", "cryptosign-key-env")
	cmd.MarkFlagsRequiredTogether("tls-cert", "tls-key")
	_ = cmd.RegisterFlagCompletionFunc("serializer", cobra.FixedCompletions([]string{"json", "msgpack", "cbor"}, cobra.ShellCompDirectiveNoFileComp))
}

// urlSchemes are the schemes clientlib.Connect takes (tcp and tcps are
// rs and rss by their older names).
var urlSchemes = []string{"ws", "wss", "rs", "rss", "tcp", "tcps", "unix"}

// checkURL refuses a --url that clientlib cannot connect to whatever the
// router, as a command-line error.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if !slices.Contains(urlSchemes, strings.ToLower(u.Scheme)) {
		return fmt.Errorf("--url %q: want ws://, wss://, rs://, rss:// or unix://", raw)
	}
	return nil
}

// addJSON adds --json.
func (f *clientFlags) addJSON(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVar(&f.json, "json", false, "print "+what+" as one JSON object per line")
}

// options turns the flags into clientlib options. Its errors are about the
// command line (exit status 2), except unreadable files, which fail (1).
func (f *clientFlags) options(stderr io.Writer) (clientlib.Options, error) {
	opts := clientlib.Options{
		Serializer: f.serializer,
		AuthID:     f.authID,
		// clientlib's own logs (e.g. a handler that panicked) go to stderr.
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if !slices.Contains([]string{"json", "msgpack", "cbor"}, f.serializer) {
		return opts, fmt.Errorf("--serializer %q: want json, msgpack or cbor", f.serializer)
	}
	if err := checkURL(f.url); err != nil {
		return opts, err
	}
	if f.cryptosignKeyFile != "" || f.cryptosignKeyEnv != "" {
		s, err := secretFlags{env: f.cryptosignKeyEnv, file: f.cryptosignKeyFile}.get("cryptosign-key")
		if err != nil {
			return opts, err
		}
		key, err := ed25519Key(s)
		if err != nil {
			return opts, err
		}
		opts.Auth = append(opts.Auth, clientlib.CryptosignAuth(key))
	}
	if f.wampcra != (secretFlags{}) {
		s, err := f.wampcra.get("wampcra-secret")
		if err != nil {
			return opts, err
		}
		opts.Auth = append(opts.Auth, clientlib.CRAAuth(s))
	}
	if f.ticket != (secretFlags{}) {
		s, err := f.ticket.get("ticket")
		if err != nil {
			return opts, err
		}
		opts.Auth = append(opts.Auth, clientlib.TicketAuth(s))
	}
	if f.tlsCA != "" || f.tlsCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.tlsCA != "" {
			pem, err := os.ReadFile(f.tlsCA)
			if err != nil {
				return opts, Failed(fmt.Errorf("--tls-ca: %w", err))
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return opts, Failed(fmt.Errorf("--tls-ca %s holds no PEM certificate", f.tlsCA))
			}
		}
		if f.tlsCert != "" {
			pair, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
			if err != nil {
				return opts, Failed(fmt.Errorf("--tls-cert: %w", err))
			}
			tc.Certificates = []tls.Certificate{pair}
			opts.Auth = append(opts.Auth, tlsAuth{})
		}
		// clientlib's default dialer, with our TLS config.
		opts.Dialer = &websocket.Dialer{HandshakeTimeout: connectTimeout, Proxy: http.ProxyFromEnvironment, TLSClientConfig: tc}
	}
	return opts, nil
}

// get returns the secret from whichever of the forms is set (cobra has
// checked that only one is).
func (s secretFlags) get(name string) (string, error) {
	switch {
	case s.value != "":
		return s.value, nil
	case s.env != "":
		v, ok := os.LookupEnv(s.env)
		if !ok || v == "" {
			return "", fmt.Errorf("--%s-env: environment variable %s is not set", name, s.env)
		}
		return v, nil
	default:
		b, err := os.ReadFile(s.file)
		if err != nil {
			return "", Failed(fmt.Errorf("--%s-file: %w", name, err))
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", Failed(fmt.Errorf("--%s-file: %s is empty", name, s.file))
		}
		return v, nil
	}
}

// ed25519Key parses a hex private key: a 32-byte seed or the 64-byte key.
func ed25519Key(s string) (ed25519.PrivateKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	switch {
	case err != nil:
	case len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case len(b) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, Failed(errors.New("cryptosign key: want 64 hex digits (a seed) or 128 (a private key)"))
}

// tlsAuth offers the "tls" authentication method: the router authenticates
// the client certificate of the connection and sends no CHALLENGE.
type tlsAuth struct{}

func (tlsAuth) Method() string { return "tls" }
func (tlsAuth) Authenticate(*wamp.Challenge) (string, wamp.Dict, error) {
	return "", nil, errors.New("router sent a CHALLENGE for tls authentication")
}

// connect joins the realm; its errors are failures (exit status 1).
func (f *clientFlags) connect(ctx context.Context, stderr io.Writer) (*clientlib.Client, error) {
	opts, err := f.options(stderr)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	c, err := clientlib.Connect(cctx, f.url, f.realm, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, Failed(fmt.Errorf("connecting to %s: interrupted", f.url))
		}
		return nil, Failed(fmt.Errorf("connecting to %s, realm %s: %w", f.url, f.realm, err))
	}
	return c, nil
}

// closeClient ends the session; an interrupted command still says GOODBYE.
// connectWithPayload parses the arguments and keyword arguments of a call
// or publication, then connects: the start of both commands. The payload
// is checked first, so a typo costs no connection.
func (f *clientFlags) connectWithPayload(ctx context.Context, stderr io.Writer, args, kws []string) ([]any, map[string]any, *clientlib.Client, error) {
	list, dict, err := parsePayload(args, kws)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := f.connect(ctx, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	return list, dict, c, nil
}

func closeClient(c *clientlib.Client) {
	_ = c.Close(context.Background()) // bounded by clientlib's CloseTimeout
}

// parseValue reads a command-line argument: JSON if it is valid JSON,
// otherwise the string itself. JSON numbers become int64 (or uint64) when
// they are integers, float64 otherwise.
func parseValue(s string) (any, error) {
	if !json.Valid([]byte(s)) {
		return s, nil
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return s, nil
	}
	return fromJSONNumbers(v)
}

func fromJSONNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", x)
		}
		return f, nil
	case []any:
		for i, e := range x {
			var err error
			if x[i], err = fromJSONNumbers(e); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, e := range x {
			var err error
			if x[k], err = fromJSONNumbers(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// parsePayload parses positional arguments and --kw KEY=VALUE flags.
func parsePayload(args, kws []string) ([]any, map[string]any, error) {
	var list []any
	for _, a := range args {
		v, err := parseValue(a)
		if err != nil {
			return nil, nil, fmt.Errorf("argument %q: %w", a, err)
		}
		list = append(list, v)
	}
	var dict map[string]any
	for _, kv := range kws {
		k, s, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("--kw %q: want KEY=VALUE", kv)
		}
		v, err := parseValue(s)
		if err != nil {
			return nil, nil, fmt.Errorf("--kw %q: %w", kv, err)
		}
		if dict == nil {
			dict = make(map[string]any)
		}
		dict[k] = v
	}
	return list, dict, nil
}

// compactJSON is v as compact JSON without HTML escaping.
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v) // e.g. NaN, which JSON cannot write
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// textValue is a value as the text output shows it: a string as it is,
// anything else as compact JSON.
func textValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return compactJSON(v)
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	_, err := io.WriteString(w, compactJSON(v)+"\n")
	return err
}

// payloadJSON is the --json form of a result, event or error.
type payloadJSON struct {
	Error       string         `json:"error,omitempty"`
	Topic       string         `json:"topic,omitempty"`
	Publication uint64         `json:"publication,omitempty"`
	Args        []any          `json:"args,omitempty"`
	Kwargs      map[string]any `json:"kwargs,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rpcFailure reports a WAMP error a call or acknowledged publish got: on
// stdout as JSON with --json, else on stderr with its keyword arguments.
func rpcFailure(what string, err error, asJSON bool, stdout, stderr io.Writer) error {
	var re *wamp.RPCError
	if !errors.As(err, &re) {
		return Failed(fmt.Errorf("%s: %w", what, err))
	}
	if asJSON {
		_ = writeJSONLine(stdout, payloadJSON{Error: string(re.URI), Args: re.Args, Kwargs: re.Kwargs})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "junction: %s: %s", what, re.URI)
	for i, a := range re.Args {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + textValue(a))
	}
	for _, k := range sortedKeys(re.Kwargs) {
		fmt.Fprintf(&b, "\n  %s: %s", k, strings.TrimRight(textValue(re.Kwargs[k]), "\n"))
	}
	fmt.Fprintln(stderr, b.String())
	return &ExitError{Code: 1}
}

// matchFlag checks a --match value.
func matchFlag(m string) error {
	if !slices.Contains([]string{"exact", "prefix", "wildcard"}, m) {
		return fmt.Errorf("--match %q: want exact, prefix or wildcard", m)
	}
	return nil
}

// uriArgs checks the positional arguments of a client command: a URI, then
// values if more is set.
func uriArgs(more bool) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return errors.New("missing URI")
		case !more && len(args) > 1:
			return fmt.Errorf("unexpected argument %q", args[1])
		}
		return nil
	}
}
