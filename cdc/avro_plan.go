package cdc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"
)

// schemaFetcher fetches writer schemas from the registry, once per id even when many records
// with a new id are decoded at the same time.
type schemaFetcher struct {
	registry *sr.Client
	mu       sync.Mutex
	byID     map[int]*schemaFetch
}

type schemaFetch struct {
	done chan struct{}
	typ  *avroType
	err  error
}

func (f *schemaFetcher) get(ctx context.Context, id int) (*avroType, error) {
	f.mu.Lock()
	e := f.byID[id]
	if e == nil {
		if f.byID == nil {
			f.byID = map[int]*schemaFetch{}
		}
		e = &schemaFetch{done: make(chan struct{})}
		f.byID[id] = e
		f.mu.Unlock()
		e.typ, e.err = f.load(ctx, id)
		if e.err != nil { // not cached: a later record asks again
			f.mu.Lock()
			delete(f.byID, id)
			f.mu.Unlock()
		}
		close(e.done)
	} else {
		f.mu.Unlock()
	}
	select {
	case <-e.done:
		return e.typ, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *schemaFetcher) load(ctx context.Context, id int) (*avroType, error) {
	s, err := f.registry.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, &fault{reason: ReasonUnknownSchemaID, err: fmt.Errorf("schema id %d: %w", id, err)}
		}
		return nil, fmt.Errorf("fetch schema id %d: %w", id, err)
	}
	if s.Type != sr.TypeAvro {
		return nil, faultf(ReasonUndecodable, "schema id %d is %s, not Avro", id, s.Type)
	}
	t, err := parseAvroSchema(s.Schema)
	if err != nil {
		return nil, faultf(ReasonUndecodable, "schema id %d: %v", id, err)
	}
	return t, nil
}

// planCache holds a table's compiled plans by schema id; reads take no lock.
type planCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[int]*avroPlan]
}

func (c *planCache) get(id int) *avroPlan {
	if m := c.m.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

func (c *planCache) put(id int, p *avroPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[int]*avroPlan{id: p}
	if old := c.m.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	c.m.Store(&m)
}

// role is what an envelope field is for.
type role uint8

const (
	roleSkip role = iota
	roleBefore
	roleAfter
	roleSource
	roleOp
	roleTsMs
	roleMessage
	// fields of the source block
	roleSourceTsMs
	roleSnapshot
	roleDB
	roleSchema
	roleTable
	roleTxID
	roleLSN
)

var envelopeRoles = map[string]role{
	"before": roleBefore, "after": roleAfter, "source": roleSource, "op": roleOp, "ts_ms": roleTsMs,
	"message": roleMessage,
}

var sourceRoles = map[string]role{
	"ts_ms": roleSourceTsMs, "snapshot": roleSnapshot, "db": roleDB, "schema": roleSchema,
	"table": roleTable, "txId": roleTxID, "lsn": roleLSN,
}

// avroPlan reads the records written with one schema id on one table: an envelope, or a key.
// Avro records are read by such plans, compiled from the writer schema, rather than through a
// generic Avro library: Debezium's schemas are fixed per table, and reading straight into
// Values saves the maps and boxed values a generic decoder builds for every record.
type avroPlan struct {
	top    *avroType
	roles  []role       // per field of top (envelope)
	source []role       // per field of the source record
	image  *avroRowPlan // the row record of before and after
	key    *avroRowPlan
}

// avroRowPlan reads one row record.
type avroRowPlan struct {
	rec  *avroType
	cols []avroCol
}

type avroCol struct {
	name  string
	typ   *avroType
	convs []avroConv // one per union branch, or one
}

type avroConv struct {
	typ *avroType
	op  op
}

func (d *Decoder) avroPlan(ctx context.Context, t *tableInfo, id int, key bool) (*avroPlan, error) {
	cache := &t.avroValues
	if key {
		cache = &t.avroKeys
	}
	if p := cache.get(id); p != nil {
		return p, nil
	}
	typ, err := d.schemas.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if typ.kind != avroRecord {
		return nil, faultf(ReasonUndecodable, "schema id %d is not a record", id)
	}
	p := &avroPlan{top: typ}
	if key {
		p.key = compileAvroRow(typ, t)
	} else {
		err = p.compileEnvelope(t)
	}
	if err != nil {
		return nil, faultf(ReasonUndecodable, "schema id %d: %v", id, err)
	}
	cache.put(id, p)
	return p, nil
}

func (p *avroPlan) compileEnvelope(t *tableInfo) error {
	p.roles = make([]role, len(p.top.fields))
	for i, f := range p.top.fields {
		p.roles[i] = envelopeRoles[f.name]
		switch p.roles[i] {
		case roleBefore, roleAfter:
			rec := recordBranch(f.typ)
			if rec == nil {
				return fmt.Errorf("%s is not a record", f.name)
			}
			if p.image == nil {
				p.image = compileAvroRow(rec, t)
			} else if p.image.rec != rec {
				return errors.New("before and after have different schemas")
			}
		case roleSource:
			src := recordBranch(f.typ)
			if src == nil {
				return errors.New("source is not a record")
			}
			p.source = make([]role, len(src.fields))
			for j, sf := range src.fields {
				p.source[j] = sourceRoles[sf.name]
			}
		}
	}
	return nil
}

// recordBranch returns t if it is a record, or the record branch of a union.
func recordBranch(t *avroType) *avroType {
	if t.kind == avroRecord {
		return t
	}
	for _, b := range t.branches {
		if b.kind == avroRecord {
			return b
		}
	}
	return nil
}

func compileAvroRow(rec *avroType, t *tableInfo) *avroRowPlan {
	rp := &avroRowPlan{rec: rec, cols: make([]avroCol, len(rec.fields))}
	for i, f := range rec.fields {
		name, typ := f.name, ColumnType("")
		if c := t.column(f.name); c != nil {
			name, typ = c.logical, c.typ
		}
		col := avroCol{name: name, typ: f.typ}
		branches := []*avroType{f.typ}
		if f.typ.kind == avroUnion {
			branches = f.typ.branches
		}
		for _, b := range branches {
			col.convs = append(col.convs, avroConv{typ: b, op: avroOp(b, typ)})
		}
		rp.cols[i] = col
	}
	return rp
}

// avroOp chooses how to read a value of Avro type t that holds a column of type typ.
func avroOp(t *avroType, typ ColumnType) op {
	if o, ok := semanticOp(t.semantic(), typ); ok {
		return o
	}
	if t.semantic() == nameDecimal || t.logical == "decimal" {
		return opDecimalBytes
	}
	switch t.logical {
	case "date":
		return opDate
	case "timestamp-millis":
		return opMillis
	case "timestamp-micros":
		return opTimestamp
	case "timestamp-nanos":
		return opNanos
	}
	switch t.kind {
	case avroString:
		if o := bareOp(typ); o != opAny {
			return o
		}
		return opText
	case avroInt, avroLong:
		switch typ {
		case TypeNumeric, TypeTimestamptz, TypeDate:
			return bareOp(typ)
		}
		return opInt
	case avroFloat, avroDouble:
		return opNumeric
	case avroBoolean:
		return opBool
	case avroBytes, avroFixed:
		if typ == TypeNumeric {
			return opNumeric
		}
		return opBytes
	case avroEnum:
		return opText
	}
	return opRaw
}
