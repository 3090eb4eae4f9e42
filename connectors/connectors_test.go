package connectors_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/connectors"
	"github.com/loyaltyhooks/loyaltyhooks/connectors/pgtest"
)

var formats = []string{config.FormatJSON, config.FormatAvro}

// isConverterKey reports whether a connector setting belongs to the converters, the only
// settings in which the two connector configs may differ.
func isConverterKey(k string) bool {
	return strings.HasPrefix(k, "key.converter") || strings.HasPrefix(k, "value.converter")
}

func TestConnectorConfigsCarryTheRequiredSettings(t *testing.T) {
	want := map[string]string{
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"plugin.name":                 "pgoutput",
		"publication.name":            connectors.PublicationName,
		"publication.autocreate.mode": "disabled",
		"topic.prefix":                "loyalty",
		"snapshot.mode":               "initial",
		"decimal.handling.mode":       "string",
		"time.precision.mode":         "adaptive",
		"tombstones.on.delete":        "true",
		"tasks.max":                   "1",
	}
	converters := map[string]map[string]string{
		config.FormatJSON: {
			"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
			"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
			"key.converter.schemas.enable":   "false",
			"value.converter.schemas.enable": "false",
		},
		config.FormatAvro: {
			"key.converter":   "io.confluent.connect.avro.AvroConverter",
			"value.converter": "io.confluent.connect.avro.AvroConverter",
		},
	}
	slotName := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	for _, format := range formats {
		c, err := connectors.ConnectorConfig(format)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name == "" {
			t.Errorf("%s: connector has no name", format)
		}
		for k, v := range want {
			if got := c.Config[k]; got != v {
				t.Errorf("%s: %s = %q, want %q", format, k, got, v)
			}
		}
		for k, v := range converters[format] {
			if got := c.Config[k]; got != v {
				t.Errorf("%s: %s = %q, want %q", format, k, got, v)
			}
		}
		for _, k := range []string{"database.hostname", "database.port", "database.user", "database.password", "database.dbname"} {
			if c.Config[k] == "" {
				t.Errorf("%s: %s is missing", format, k)
			}
		}
		if s := c.Config["slot.name"]; !slotName.MatchString(s) {
			t.Errorf("%s: slot.name %q is not a valid replication slot name", format, s)
		}
		if ms, err := strconv.Atoi(c.Config["heartbeat.interval.ms"]); err != nil || ms <= 0 {
			t.Errorf("%s: heartbeat.interval.ms = %q, want a positive interval", format, c.Config["heartbeat.interval.ms"])
		}
		if format == config.FormatAvro {
			for _, k := range []string{"key.converter.schema.registry.url", "value.converter.schema.registry.url"} {
				if !strings.HasPrefix(c.Config[k], "http") {
					t.Errorf("avro: %s = %q, want a registry URL", k, c.Config[k])
				}
			}
		}
		for k, v := range c.Config {
			if strings.TrimSpace(v) != v {
				t.Errorf("%s: %s has surrounding blanks: %q", format, k, v)
			}
		}
	}
}

func TestConnectorConfigsDifferOnlyInConverters(t *testing.T) {
	j, err := connectors.ConnectorConfig(config.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	a, err := connectors.ConnectorConfig(config.FormatAvro)
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != a.Name {
		t.Errorf("names differ: %q vs %q", j.Name, a.Name)
	}
	keys := map[string]bool{}
	for k := range j.Config {
		keys[k] = true
	}
	for k := range a.Config {
		keys[k] = true
	}
	for k := range keys {
		if isConverterKey(k) {
			continue
		}
		jv, jok := j.Config[k]
		av, aok := a.Config[k]
		if jv != av || jok != aok {
			t.Errorf("%s differs: json %q (set %v), avro %q (set %v)", k, jv, jok, av, aok)
		}
	}
}

func TestConnectorConfigsListExactlyTheReferenceTables(t *testing.T) {
	var want []string
	for _, table := range cdc.Reference {
		want = append(want, "public."+table.Name)
	}
	if !slices.Equal(want, qualified(config.LogicalTables)) {
		t.Fatalf("cdc.Reference lists %v, config.LogicalTables %v", want, config.LogicalTables)
	}
	if len(want) != 13 {
		t.Fatalf("the reference schema has %d tables, want 13", len(want))
	}
	for _, format := range formats {
		c, err := connectors.ConnectorConfig(format)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Tables()
		if !slices.Equal(got, want) {
			t.Errorf("%s: table.include.list = %v, want %v", format, got, want)
		}
	}
}

func TestConnectorJSONRejectsUnknownFormat(t *testing.T) {
	if _, err := connectors.ConnectorJSON("protobuf"); err == nil {
		t.Fatal("want an error for an unknown source.format")
	}
}

// TestSchemaAppliesToPostgreSQL applies schema.sql twice to a fresh database and checks the
// catalog against the reference schema: every table and column with its type, the primary keys,
// REPLICA IDENTITY FULL, and the publication's table list.
func TestSchemaAppliesToPostgreSQL(t *testing.T) {
	db := pgtest.New(t)
	for i := range 2 {
		if err := db.Exec(string(connectors.SchemaSQL())); err != nil {
			t.Fatalf("apply schema.sql (pass %d): %v", i+1, err)
		}
	}
	ref := cdc.Reference

	t.Run("columns", func(t *testing.T) {
		rows := query(t, db, `SELECT table_name, column_name, udt_name,
			coalesce(numeric_precision::text, ''), coalesce(numeric_scale::text, '')
			FROM information_schema.columns WHERE table_schema = 'public'
			ORDER BY table_name, ordinal_position`)
		// Debezium emits columns in table order, so the DDL keeps the reference order.
		got := map[string][]cdc.ColumnDef{}
		for _, r := range rows {
			table, column, udt := r[0], r[1], r[2]
			if udt == "numeric" && (r[3] != "" || r[4] != "") {
				t.Errorf("%s.%s is numeric(%s,%s), want unconstrained numeric", table, column, r[3], r[4])
			}
			got[table] = append(got[table], cdc.ColumnDef{Name: column, Type: cdc.ColumnType(udt)})
		}
		for _, tab := range ref {
			var want []cdc.ColumnDef
			for _, c := range tab.Columns {
				want = append(want, cdc.ColumnDef{Name: c.Name, Type: cdc.ColumnType(udtName[c.Type])})
			}
			if !slices.Equal(got[tab.Name], want) {
				t.Errorf("public.%s columns (name udt_name, in order):\n got  %v\n want %v", tab.Name, got[tab.Name], want)
			}
			delete(got, tab.Name)
		}
		for extra := range got {
			t.Errorf("table public.%s is not in the reference schema", extra)
		}
	})

	t.Run("primary keys", func(t *testing.T) {
		rows := query(t, db, `SELECT c.relname, string_agg(a.attname, ',' ORDER BY k.n)
			FROM pg_index i
			JOIN pg_class c ON c.oid = i.indrelid
			CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
			WHERE i.indisprimary AND c.relnamespace = 'public'::regnamespace
			GROUP BY c.relname`)
		got := map[string]string{}
		for _, r := range rows {
			got[r[0]] = r[1]
		}
		for _, tab := range ref {
			if want := strings.Join(tab.Key, ","); got[tab.Name] != want {
				t.Errorf("primary key of %s = (%s), want (%s)", tab.Name, got[tab.Name], want)
			}
		}
	})

	t.Run("replica identity", func(t *testing.T) {
		rows := query(t, db, `SELECT relname, relreplident::text FROM pg_class
			WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`)
		got := map[string]string{}
		for _, r := range rows {
			got[r[0]] = r[1]
		}
		for _, tab := range ref {
			if got[tab.Name] != "f" {
				t.Errorf("replica identity of %s = %q, want 'f' (FULL)", tab.Name, got[tab.Name])
			}
		}
	})

	t.Run("publication", func(t *testing.T) {
		rows := query(t, db, `SELECT schemaname || '.' || tablename FROM pg_publication_tables
			WHERE pubname = '`+connectors.PublicationName+`' ORDER BY 1`)
		var got, want []string
		for _, r := range rows {
			got = append(got, r[0])
		}
		for _, tab := range ref {
			want = append(want, "public."+tab.Name)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("publication %s lists %v, want %v", connectors.PublicationName, got, want)
		}
	})
}

func query(t *testing.T, db *pgtest.DB, q string) [][]string {
	t.Helper()
	lines, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]string, len(lines))
	for i, l := range lines {
		rows[i] = strings.Split(l, pgtest.FieldSep)
	}
	return rows
}

// udtName is how information_schema names each type of the reference schema.
var udtName = map[cdc.ColumnType]string{
	cdc.TypeUUID: "uuid", cdc.TypeText: "text", cdc.TypeInt: "int4", cdc.TypeBool: "bool",
	cdc.TypeNumeric: "numeric", cdc.TypeTimestamptz: "timestamptz", cdc.TypeDate: "date",
	cdc.TypeJSONB: "jsonb",
}

func qualified(tables []string) []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = "public." + t
	}
	return out
}
