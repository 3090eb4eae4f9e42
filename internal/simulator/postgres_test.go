package simulator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/connectors"
	"github.com/loyaltyhooks/loyaltyhooks/connectors/pgtest"
)

// TestChangesApplyToPostgreSQL writes the simulated changes into a real database built from
// connectors/postgres/schema.sql: the snapshot as inserts, each action as one transaction.
// Every value must fit its column, every foreign key must hold, and every update and delete
// must find the row exactly as its before image says, so the images are the ones PostgreSQL
// would log with REPLICA IDENTITY FULL.
func TestChangesApplyToPostgreSQL(t *testing.T) {
	db := pgtest.New(t)
	if err := db.Exec(string(connectors.SchemaSQL())); err != nil {
		t.Fatalf("apply schema.sql: %v", err)
	}
	snapshot, streamed := run(t, Options{Seed: 21, Tenants: 2}, 800)

	var script strings.Builder
	script.WriteString("BEGIN;\n")
	for _, ch := range snapshot {
		script.WriteString(insertSQL(ch))
	}
	script.WriteString("COMMIT;\n")
	for i, ch := range streamed {
		if i == 0 || streamed[i-1].Source.TxID != ch.Source.TxID {
			script.WriteString("BEGIN;\n")
		}
		switch ch.Op {
		case cdc.OpCreate:
			script.WriteString(insertSQL(ch))
		case cdc.OpUpdate:
			script.WriteString(matchingSQL(ch, "UPDATE public."+ch.Table+" SET "+assignments(ch.After)))
		case cdc.OpDelete:
			script.WriteString(matchingSQL(ch, "DELETE FROM public."+ch.Table))
		}
		if i+1 == len(streamed) || streamed[i+1].Source.TxID != ch.Source.TxID {
			script.WriteString("COMMIT;\n")
		}
	}
	if err := db.Exec(script.String()); err != nil {
		t.Fatal(err)
	}

	// The database now holds exactly the rows the change stream leaves a reader with.
	want := map[string]int{}
	for _, ch := range append(snapshot, streamed...) {
		switch ch.Op {
		case cdc.OpRead, cdc.OpCreate:
			want[ch.Table]++
		case cdc.OpDelete:
			want[ch.Table]--
		}
	}
	for _, def := range cdc.Reference {
		rows, err := db.Query("SELECT count(*) FROM public." + def.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got := rows[0]; got != fmt.Sprint(want[def.Name]) {
			t.Errorf("public.%s has %s rows, the changes leave %d", def.Name, got, want[def.Name])
		}
	}
}

func insertSQL(ch *cdc.Change) string {
	names := make([]string, len(ch.After.Columns))
	values := make([]string, len(ch.After.Columns))
	for i, c := range ch.After.Columns {
		names[i], values[i] = c.Name, literal(c.Value)
	}
	return fmt.Sprintf("INSERT INTO public.%s (%s) VALUES (%s);\n", ch.Table, strings.Join(names, ", "), strings.Join(values, ", "))
}

func assignments(r *cdc.Row) string {
	parts := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		parts[i] = c.Name + " = " + literal(c.Value)
	}
	return strings.Join(parts, ", ")
}

// matchingSQL runs stmt on the row whose every column equals the change's before image and
// fails the transaction when there is no such row.
func matchingSQL(ch *cdc.Change, stmt string) string {
	conds := make([]string, len(ch.Before.Columns))
	for i, c := range ch.Before.Columns {
		conds[i] = c.Name + " IS NOT DISTINCT FROM " + literal(c.Value)
	}
	return fmt.Sprintf(`DO $sim$ BEGIN
%s WHERE %s;
IF NOT FOUND THEN RAISE EXCEPTION 'no row of %s matches the before image of the %s change of %s (txId %d)'; END IF;
END $sim$;
`, stmt, strings.Join(conds, " AND "), ch.Table, ch.Op, ch.KeyText(), ch.Source.TxID)
}

func literal(v cdc.Value) string {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch v.Kind {
	case cdc.Null:
		return "NULL"
	case cdc.String:
		return quote(v.Str)
	case cdc.Int:
		return fmt.Sprint(v.Int)
	case cdc.Bool:
		return fmt.Sprint(v.Bool())
	case cdc.Decimal:
		return quote(v.Str) + "::numeric"
	case cdc.Time:
		return quote(v.Time().Format(time.RFC3339Nano)) + "::timestamptz"
	case cdc.Date:
		return quote(v.Text()) + "::date"
	case cdc.JSON:
		return quote(v.Str) + "::jsonb"
	}
	panic(fmt.Sprintf("no SQL literal for kind %d", v.Kind))
}
