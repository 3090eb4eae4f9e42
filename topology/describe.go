package topology

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats Describe writes.
var Formats = []string{"text", "json", "mermaid"}

// Describe prints t for people ("text"), for programs ("json") or as a Mermaid flowchart
// ("mermaid") that renders in Markdown.
func (t Topology) Describe(w io.Writer, format string) error {
	switch format {
	case "text":
		return t.describeText(w)
	case "json":
		return t.describeJSON(w)
	case "mermaid":
		return t.describeMermaid(w)
	}
	return fmt.Errorf("topology: unknown format %q, want one of %s", format, strings.Join(Formats, ", "))
}

func (t Topology) describeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Topics (%d)\n", len(t.Topics))
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tCLEANUP\tRETENTION\tKEY\tWRITTEN BY\tREAD BY")
	for _, tp := range t.Topics {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", tp.Name, tp.Partitions, tp.CleanupPolicy,
			retentionText(tp.Retention), orDash(tp.Key), orDash(strings.Join(tp.Writers, ", ")), orDash(strings.Join(tp.Readers, ", ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nComponents (%d)\n", len(t.Components()))
	for _, c := range t.Components() {
		reads, writes := t.touches(c)
		fmt.Fprintf(w, "%s\n", c)
		if len(reads) > 0 {
			fmt.Fprintf(w, "  reads   %s\n", strings.Join(reads, ", "))
		}
		if len(writes) > 0 {
			fmt.Fprintf(w, "  writes  %s\n", strings.Join(writes, ", "))
		}
	}
	rf := "broker default"
	if t.ReplicationFactor > 0 {
		rf = fmt.Sprint(t.ReplicationFactor)
	}
	_, err := fmt.Fprintf(w, "\nReplication factor of created topics: %s. Parallelism: %d partitions per change topic; processor replicas beyond that sit idle.\n",
		rf, t.sourcePartitions())
	return err
}

// touches lists the topics component c reads and writes.
func (t Topology) touches(c string) (reads, writes []string) {
	for _, tp := range t.Topics {
		if slices.Contains(tp.Readers, c) {
			reads = append(reads, tp.Name)
		}
		if slices.Contains(tp.Writers, c) {
			writes = append(writes, tp.Name)
		}
	}
	return reads, writes
}

// sourcePartitions is the largest partition count of a change topic the processor reads: the
// most processor instances that get work.
func (t Topology) sourcePartitions() int32 {
	var n int32
	for _, tp := range t.Topics {
		if tp.Table != "" && slices.Contains(tp.Readers, Processor) {
			n = max(n, tp.Partitions)
		}
	}
	return n
}

func retentionText(d time.Duration) string {
	switch {
	case d == 0:
		return "default"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonTopic is the JSON form of a topic; retentionMs 0 means the broker's default.
type jsonTopic struct {
	Name          string   `json:"name"`
	Partitions    int32    `json:"partitions"`
	Key           string   `json:"key"`
	CleanupPolicy string   `json:"cleanupPolicy"`
	RetentionMs   int64    `json:"retentionMs"`
	Table         string   `json:"table,omitempty"`
	Writers       []string `json:"writers"`
	Readers       []string `json:"readers"`
}

type jsonComponent struct {
	Name   string   `json:"name"`
	Reads  []string `json:"reads"`
	Writes []string `json:"writes"`
}

func (t Topology) describeJSON(w io.Writer) error {
	out := struct {
		Topics            []jsonTopic     `json:"topics"`
		Components        []jsonComponent `json:"components"`
		ReplicationFactor int16           `json:"replicationFactor"`
	}{ReplicationFactor: t.ReplicationFactor}
	for _, tp := range t.Topics {
		out.Topics = append(out.Topics, jsonTopic{
			Name: tp.Name, Partitions: tp.Partitions, Key: tp.Key, CleanupPolicy: tp.CleanupPolicy,
			RetentionMs: tp.Retention.Milliseconds(), Table: tp.Table,
			Writers: nonNil(tp.Writers), Readers: nonNil(tp.Readers),
		})
	}
	for _, c := range t.Components() {
		reads, writes := t.touches(c)
		out.Components = append(out.Components, jsonComponent{Name: c, Reads: nonNil(reads), Writes: nonNil(writes)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// describeMermaid draws components as rounded boxes and topics as cylinders, with an arrow from
// each writer to its topic and from each topic to its readers.
func (t Topology) describeMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, c := range t.Components() {
		fmt.Fprintf(&b, "  %s([%q])\n", componentID(c), c)
	}
	for i, tp := range t.Topics {
		fmt.Fprintf(&b, "  t%d[(\"%s<br/>%d partitions\")]\n", i, tp.Name, tp.Partitions)
	}
	for i, tp := range t.Topics {
		for _, c := range tp.Writers {
			fmt.Fprintf(&b, "  %s --> t%d\n", componentID(c), i)
		}
		for _, c := range tp.Readers {
			fmt.Fprintf(&b, "  t%d --> %s\n", i, componentID(c))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func componentID(c string) string {
	return "c_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, c)
}
