package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

func newTailCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the webhook topic's committed events as JSON lines",
		Long: `Print every committed record of the webhook topic (topics.webhooks) as one JSON line:
its partition, offset and key, and the decoded event in Open Loyalty's envelope. Reads from the
earliest offset and exits at the end of the topic, unless --follow is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			return tail(cmd.Context(), cfg, follow, out, func() error { return out.Flush() })
		},
	}
	cmd.Flags().BoolVar(&follow, "follow", false, "keep printing new events instead of exiting at the end of the topic")
	return cmd
}

// tail prints the webhook topic; flush is called whenever the reader has caught up.
func tail(ctx context.Context, cfg config.Config, follow bool, w io.Writer, flush func() error) error {
	codec, err := schemas.New()
	if err != nil {
		return err
	}
	var reader *schemas.Reader
	if cfg.SchemaRegistry.URL != "" {
		reg, err := connect.Registry(cfg.SchemaRegistry)
		if err != nil {
			return err
		}
		if err := connect.CheckRegistry(ctx, reg, cfg.SchemaRegistry); err != nil {
			return err
		}
		reader = schemas.NewReader(codec, reg)
	} else {
		reader = schemas.NewReader(codec, nil)
	}
	// Without it a refused login would surface as a bare EOF from the first request.
	if err := connect.CheckKafka(ctx, cfg.Kafka); err != nil {
		return err
	}
	topic := cfg.Topics.Webhooks
	cl, err := connect.KafkaClient(cfg.Kafka,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Commit markers tell where a partition ends even when its last record is one.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	remaining := map[int32]int64{} // partition → end offset still to reach
	if !follow {
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("end offsets of %s: %w", topic, err)
		}
		if err := ends.Error(); err != nil {
			return fmt.Errorf("end offsets of %s: %w", topic, err)
		}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Offset > 0 {
				remaining[o.Partition] = o.Offset
			}
		})
		if len(remaining) == 0 {
			return nil
		}
	}
	var line []byte
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		if err := fetches.Err(); err != nil {
			return fmt.Errorf("read %s: %w", topic, err)
		}
		var werr error
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			if r.Attrs.IsControl() || werr != nil {
				return
			}
			line, werr = appendTailLine(line[:0], codec, reader, r)
			if werr == nil {
				_, werr = w.Write(line)
			}
		})
		if werr != nil {
			return werr
		}
		if err := flush(); err != nil {
			return err
		}
		if !follow && len(remaining) == 0 {
			return nil
		}
	}
}

// appendTailLine renders one record: {"partition","offset","key","event"} or, when the value
// cannot be decoded, the error in place of the event, so one bad record never stops the tail.
func appendTailLine(dst []byte, codec *schemas.Codec, reader *schemas.Reader, r *kgo.Record) ([]byte, error) {
	dst = append(dst, `{"partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	dst = append(dst, `,"key":`...)
	dst = appendJSONString(dst, string(r.Key))
	ev, err := reader.Decode(r.Value)
	if err == nil {
		var b []byte
		if b, err = codec.AppendJSON(append(dst, `,"event":`...), ev, ""); err == nil {
			dst = b
		}
	}
	if err != nil {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, err.Error())
	}
	return append(dst, "}\n"...), nil
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
