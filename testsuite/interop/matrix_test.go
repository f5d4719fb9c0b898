package interop

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

type caseKey struct{ group, serializer, scenario string }

type outcome struct {
	status string // pass, fail, n/a (a client limitation), missing (tool not installed)
	detail string
}

// matrix collects the outcome of every case for MATRIX.md.
type matrix struct {
	mu      sync.Mutex
	results map[caseKey]outcome
	libs    map[string]string // client id -> library and version, from its result lines
	tools   map[string]string // client id -> runtime version
}

func newMatrix() *matrix {
	return &matrix{results: map[caseKey]outcome{}, libs: map[string]string{}, tools: map[string]string{}}
}

func (m *matrix) set(k caseKey, o outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results[k] = o
}

func (m *matrix) setLib(id, lib string) {
	if lib == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.libs[id] = lib
}

func (m *matrix) setTool(id, tool string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tools[id] = tool
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

// markdown renders the results; it is deterministic for the same outcomes.
func (m *matrix) markdown() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b bytes.Buffer
	counts := map[string]int{}
	for _, o := range m.results {
		counts[o.status]++
	}
	fmt.Fprintf(&b, "# Junction interop matrix\n\n")
	fmt.Fprintf(&b, "Generated from the results of `INTEROP_WRITE_MATRIX=1 go test ./testsuite/interop/`\n")
	fmt.Fprintf(&b, "(testsuite/interop/interop_test.go); do not edit by hand. Each cell is one\n")
	fmt.Fprintf(&b, "subtest, `TestInterop/<client>/<serializer>/<scenario>`, run against an\n")
	fmt.Fprintf(&b, "in-process Junction; the Go clients run testsuite's scenarios\n")
	fmt.Fprintf(&b, "(`TestInterop/go/<client>/<serializer>/<scenario>`).\n\n")
	fmt.Fprintf(&b, "Totals: %d pass, %d fail, %d n/a (client limitation), %d missing tool.\n\n",
		counts["pass"], counts["fail"], counts["n/a"], counts["missing"])

	fmt.Fprintf(&b, "## Libraries\n\n")
	for _, c := range clients {
		lib, tool := m.libs[c.id], m.tools[c.id]
		if lib == "" {
			lib = "(not run)"
		}
		if tool != "" && !strings.Contains(lib, "Python") {
			lib += " on " + tool
		}
		fmt.Fprintf(&b, "- %s: %s\n", mdEscape(c.name), mdEscape(lib))
	}
	b.WriteString("\n## Client × serializer × scenario\n\n| scenario |")
	var cols []caseKey
	for _, c := range clients {
		for _, ser := range c.serializers {
			cols = append(cols, caseKey{group: c.id, serializer: ser})
			fmt.Fprintf(&b, " %s %s |", mdEscape(c.name), ser)
		}
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	var notes []string
	note := func(text string) string {
		for i, n := range notes {
			if n == text {
				return fmt.Sprintf("[%d]", i+1)
			}
		}
		notes = append(notes, text)
		return fmt.Sprintf("[%d]", len(notes))
	}
	cell := func(o outcome, ok bool) string {
		switch {
		case !ok:
			return "not run"
		case o.status == "pass":
			return "pass"
		case o.status == "fail":
			return "**FAIL** " + note("FAIL: "+o.detail)
		default:
			return o.status + " " + note(o.detail)
		}
	}
	for _, sc := range scenarios {
		fmt.Fprintf(&b, "| %s |", sc)
		for _, col := range cols {
			o, ok := m.results[caseKey{group: col.group, serializer: col.serializer, scenario: sc}]
			fmt.Fprintf(&b, " %s |", cell(o, ok))
		}
		b.WriteString("\n")
	}

	b.WriteString("\n## Go clients × serializer × testsuite scenario\n\n| scenario |")
	var goCols []caseKey
	for _, d := range goDrivers {
		for _, ser := range []string{"json", "msgpack", "cbor"} {
			goCols = append(goCols, caseKey{group: "go-" + d.Name(), serializer: ser})
			fmt.Fprintf(&b, " %s %s |", d.Name(), ser)
		}
	}
	b.WriteString("\n|---|")
	for range goCols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, sc := range goScenarios() {
		fmt.Fprintf(&b, "| %s |", sc.Name)
		for _, col := range goCols {
			o, ok := m.results[caseKey{group: col.group, serializer: col.serializer, scenario: sc.Name}]
			fmt.Fprintf(&b, " %s |", cell(o, ok))
		}
		b.WriteString("\n")
	}

	b.WriteString("\n## Mixed: two libraries through the router\n\n| case | result |\n|---|---|\n")
	for _, mc := range mixedCases() {
		o, ok := m.results[caseKey{group: "mixed", serializer: mc.kind, scenario: mc.name()}]
		var what string
		if mc.kind == "call" {
			what = fmt.Sprintf("%s (%s) calls an %s callee (%s)", mc.other.name, mc.otherSer, mc.server.name, mc.serverSer)
		} else {
			what = fmt.Sprintf("%s (%s) publishes %d events to an %s subscriber (%s)", mc.other.name, mc.otherSer, mixedEvents, mc.server.name, mc.serverSer)
		}
		if mc.binary() {
			what += ", with bytes"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(what), cell(o, ok))
	}

	b.WriteString("\n## Scenarios\n\n")
	for _, sc := range scenarios {
		fmt.Fprintf(&b, "- `%s`: %s\n", sc, scenarioText[sc])
	}
	b.WriteString("- mixed `call`: args of every JSON type (and bytes where the caller's serializer carries them) and kwargs go through a callee of another library and back; an application error comes back with its URI and args\n")
	b.WriteString("- mixed `pubsub`: the subscriber of another library gets every event in order with its args and kwargs\n")
	if len(notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, mdEscape(n))
		}
	}
	return b.Bytes()
}

// The README carries the matrix between these markers; spliceReadme
// replaces what is between them with MATRIX.md, its headings one level
// down and without its title.
const (
	readmeBegin = "<!-- BEGIN interop matrix: generated by INTEROP_WRITE_MATRIX=1 go test ./testsuite/interop/ -->"
	readmeEnd   = "<!-- END interop matrix -->"
)

func spliceReadme(path string, md []byte) error {
	readme, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	before, rest, ok1 := bytes.Cut(readme, []byte(readmeBegin))
	_, after, ok2 := bytes.Cut(rest, []byte(readmeEnd))
	if !ok1 || !ok2 {
		return fmt.Errorf("%s has no %q ... %q block", path, readmeBegin, readmeEnd)
	}
	var body bytes.Buffer
	for line := range bytes.Lines(md) {
		switch {
		case bytes.HasPrefix(line, []byte("# ")):
			continue
		case bytes.HasPrefix(line, []byte("#")):
			body.WriteString("#")
		}
		body.Write(line)
	}
	out := slices.Concat(before, []byte(readmeBegin+"\n"), bytes.TrimSpace(body.Bytes()), []byte("\n"+readmeEnd), after)
	return os.WriteFile(path, out, 0o644)
}
