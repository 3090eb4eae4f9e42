package debezium

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

func sourceForTest() config.Source { return config.Source{TopicPrefix: "loyalty", Schema: "public"} }

func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 100: "100.0", -12.5: "-12.5", 0.001: "0.001", 0.0001: "1.0E-4", 12345678: "1.2345678E7",
		9999999: "9999999.0", 1e7: "1.0E7", 1.5e300: "1.5E300", -2.5e-10: "-2.5E-10",
	} {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestTwosComplement(t *testing.T) {
	for n, want := range map[int64][]byte{
		0: {0x00}, 1: {0x01}, 127: {0x7f}, 128: {0x00, 0x80}, -1: {0xff}, -128: {0x80}, -129: {0xff, 0x7f},
		-1250: {0xfb, 0x1e}, 10000: {0x27, 0x10}, 32767: {0x7f, 0xff},
	} {
		if got := twosComplement(big.NewInt(n)); !bytes.Equal(got, want) {
			t.Errorf("twosComplement(%d) = % x, want % x", n, got, want)
		}
	}
}

func TestAvroSchemaOfAValue(t *testing.T) {
	// The shapes Debezium's Avro converter gives (see testdata of cdc): optional fields
	// are unions with null and a null default, the snapshot enum keeps its own default, a named
	// record is defined once and referred to by name after.
	e, err := NewEncoder(Options{DecimalMode: DecimalPrecise, Source: sourceForTest()})
	if err != nil {
		t.Fatal(err)
	}
	got := avroSchema(e.tables["wallet"].value)
	for _, want := range []string{
		`{"type":"record","name":"Envelope","namespace":"loyalty.public.wallet","fields":[{"name":"before","type":["null",{"type":"record","name":"Value","fields":[{"name":"wallet_id","type":{"type":"string","connect.version":1,"connect.name":"io.debezium.data.Uuid"}}`,
		`{"name":"active_units","type":["null",{"type":"record","name":"VariableScaleDecimal","namespace":"io.debezium.data","fields":[{"name":"scale","type":"int"},{"name":"value","type":"bytes"}],"connect.doc":"Variable scaled decimal","connect.version":1,"connect.name":"io.debezium.data.VariableScaleDecimal"}],"doc":"Variable scaled decimal","default":null}`,
		`{"name":"pending_units","type":["null","io.debezium.data.VariableScaleDecimal"],"doc":"Variable scaled decimal","default":null}`,
		`{"name":"after","type":["null","Value"],"default":null}`,
		`{"name":"snapshot","type":[{"type":"string","connect.version":1,"connect.parameters":{"allowed":"true,last,false,incremental"},"connect.default":"false","connect.name":"io.debezium.data.Enum"},"null"],"default":"false"}`,
		`{"name":"transaction","type":["null",{"type":"record","name":"block","namespace":"event","fields":[{"name":"id","type":"string"},{"name":"total_order","type":"long"},{"name":"data_collection_order","type":"long"}],"connect.version":1,"connect.name":"event.block"}],"default":null}`,
		`{"name":"ts_ns","type":["null","long"],"default":null}],"connect.version":2,"connect.name":"loyalty.public.wallet.Envelope"}`,
	} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("Avro schema lacks\n%s\nin\n%s", want, got)
		}
	}
}
