package interop

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// caseKey names a case: group is the client id (go-<driver> for the Go
// clients, "mixed" for the mixed cases, whose serializer is their kind).
type caseKey struct{ group, transport, serializer, scenario string }

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
	fmt.Fprintf(&b, "subtest, `TestInterop/<client>/<transport>/<serializer>/<scenario>`, run\n")
	fmt.Fprintf(&b, "against an in-process Junction serving WebSocket and RawSocket on one TCP\n")
	fmt.Fprintf(&b, "port (RawSocket TCP), as the binary's default config does, RawSocket on a\n")
	fmt.Fprintf(&b, "Unix socket (RawSocket Unix) and, for some mixed cases, on a TCP listener\n")
	fmt.Fprintf(&b, "of its own; the Go clients run testsuite's scenarios\n")
	fmt.Fprintf(&b, "(`TestInterop/go/<client>/<transport>/<serializer>/<scenario>`).\n\n")
	fmt.Fprintf(&b, "Totals: %d pass, %d fail, %d n/a (client limitation), %d missing tool.\n\n",
		counts["pass"], counts["fail"], counts["n/a"], counts["missing"])
	var n notes
	m.writeLibraries(&b)
	m.writeTransports(&b, &n)
	for _, tr := range transports {
		m.writeScenarios(&b, &n, tr)
	}
	m.writeGo(&b, &n)
	m.writeMixed(&b, &n)
	b.WriteString("\n## Scenarios\n\n")
	for _, sc := range scenariosOver(rawSocketTCP) {
		fmt.Fprintf(&b, "- `%s`: %s\n", sc, scenarioText[sc])
	}
	b.WriteString("- mixed `call`: args of every JSON type (and bytes where every side's serializer carries them) and kwargs go through a callee of another library and back; an application error comes back with its URI and args\n")
	b.WriteString("- mixed `pubsub`: each subscriber, of another library, serializer or transport than the publisher, gets every event in order with its args and kwargs\n")
	if len(n) > 0 {
		b.WriteString("\n## Notes\n\n")
		for i, text := range n {
			fmt.Fprintf(&b, "%d. %s\n", i+1, mdEscape(text))
		}
	}
	return b.Bytes()
}

// notes are MATRIX.md's footnotes, numbered in the order of first use.
type notes []string

func (n *notes) ref(text string) string {
	for i, x := range *n {
		if x == text {
			return fmt.Sprintf("[%d]", i+1)
		}
	}
	*n = append(*n, text)
	return fmt.Sprintf("[%d]", len(*n))
}

func (n *notes) cell(o outcome, ok bool) string {
	switch {
	case !ok:
		return "not run"
	case o.status == "pass":
		return "pass"
	case o.status == "fail":
		return "**FAIL** " + n.ref("FAIL: "+o.detail)
	default:
		return o.status + " " + n.ref(o.detail)
	}
}

func (m *matrix) writeLibraries(b *bytes.Buffer) {
	b.WriteString("## Libraries\n\n")
	for _, c := range clients {
		lib, tool := m.libs[c.id], m.tools[c.id]
		if lib == "" {
			lib = "(not run)"
		}
		if tool != "" && !strings.Contains(lib, "Python") {
			lib += " on " + tool
		}
		fmt.Fprintf(b, "- %s: %s\n", mdEscape(c.name), mdEscape(lib))
	}
}

// writeTransports writes what each client runs over each transport: its
// serializers and the count of outcomes, or why it cannot.
func (m *matrix) writeTransports(b *bytes.Buffer, n *notes) {
	b.WriteString("\n## Client × transport\n\n| client |")
	for _, tr := range transports {
		fmt.Fprintf(b, " %s |", tr.name)
	}
	b.WriteString("\n|---|")
	for range transports {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, c := range clients {
		fmt.Fprintf(b, "| %s |", mdEscape(c.name))
		for _, tr := range transports {
			sers := c.serializers[tr.id]
			cell := "—"
			if len(sers) > 0 {
				cell = strings.Join(sers, ", ") + ": " + m.tally(c.id, tr.id)
			}
			if why := c.lacking[tr.id]; why != "" {
				cell += " " + n.ref(why)
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	for _, d := range goDrivers {
		fmt.Fprintf(b, "| %s (Go) |", d.Name())
		for _, tr := range transports {
			fmt.Fprintf(b, " %s: %s |", strings.Join(allSerializers, ", "), m.tally("go-"+d.Name(), tr.id))
		}
		b.WriteString("\n")
	}
}

// tally counts the outcomes of a group's cases over a transport.
func (m *matrix) tally(group, tr string) string {
	counts := map[string]int{}
	for k, o := range m.results {
		if k.group == group && k.transport == tr {
			counts[o.status]++
		}
	}
	var parts []string
	for _, st := range []string{"pass", "fail", "n/a", "missing"} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], strings.Replace(st, "fail", "**FAIL**", 1)))
		}
	}
	if len(parts) == 0 {
		return "not run"
	}
	return strings.Join(parts, ", ")
}

// writeScenarios writes the table of every client's scenarios over tr.
func (m *matrix) writeScenarios(b *bytes.Buffer, n *notes, tr transport) {
	fmt.Fprintf(b, "\n## Client × serializer × scenario: %s\n\n| scenario |", tr.name)
	var cols []caseKey
	for _, c := range clients {
		for _, ser := range c.serializers[tr.id] {
			cols = append(cols, caseKey{group: c.id, transport: tr.id, serializer: ser})
			fmt.Fprintf(b, " %s %s |", mdEscape(c.name), ser)
		}
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, sc := range scenariosOver(tr) {
		fmt.Fprintf(b, "| %s |", sc)
		for _, col := range cols {
			col.scenario = sc
			o, ok := m.results[col]
			fmt.Fprintf(b, " %s |", n.cell(o, ok))
		}
		b.WriteString("\n")
	}
}

// writeGo writes the Go clients' table: one cell per client, serializer
// and scenario, which names the transports where they do not all agree.
func (m *matrix) writeGo(b *bytes.Buffer, n *notes) {
	names := make([]string, len(transports))
	for i, tr := range transports {
		names[i] = tr.name
	}
	fmt.Fprintf(b, "\n## Go clients × serializer × testsuite scenario\n\nOver %s: a cell names the transports only where their outcomes differ.\n\n| scenario |",
		strings.Join(names, ", "))
	type col struct{ group, ser string }
	var cols []col
	for _, d := range goDrivers {
		for _, ser := range allSerializers {
			cols = append(cols, col{"go-" + d.Name(), ser})
			fmt.Fprintf(b, " %s %s |", d.Name(), ser)
		}
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, sc := range goScenarios() {
		fmt.Fprintf(b, "| %s |", sc.Name)
		for _, c := range cols {
			var cells []string
			for _, tr := range transports {
				o, ok := m.results[caseKey{group: c.group, transport: tr.id, serializer: c.ser, scenario: sc.Name}]
				cells = append(cells, n.cell(o, ok))
			}
			cell := cells[0]
			if slices.ContainsFunc(cells, func(x string) bool { return x != cell }) {
				for i := range cells {
					cells[i] = transports[i].name + ": " + cells[i]
				}
				cell = strings.Join(cells, ", ")
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
}

func (m *matrix) writeMixed(b *bytes.Buffer, n *notes) {
	b.WriteString("\n## Mixed: libraries, serializers and transports through the router\n\n| case | result |\n|---|---|\n")
	for _, mc := range mixedCases() {
		o, ok := m.results[caseKey{group: "mixed", serializer: mc.kind, scenario: mc.name()}]
		fmt.Fprintf(b, "| %s | %s |\n", mdEscape(mc.text()), n.cell(o, ok))
	}
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
