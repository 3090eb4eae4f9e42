package subscription

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// idlePoll is how long a poll may come back empty before the follower takes a partition whose
// only unread offset is a transaction marker as read to its end.
const idlePoll = time.Second

// Follow reads the change topics cl consumes (the subscription and tenant topics, every
// partition, from the start; cl must not be in a group) into v until ctx ends. caughtUp is
// called once, when every partition has been read to the end offset it had when Follow
// began: until then the view is not complete and events must not be matched against it.
// A record that can never be decoded is logged and left out; a decoding failure that may pass
// (the schema registry unreachable) is retried.
func (v *View) Follow(ctx context.Context, cl *kgo.Client, dec *cdc.Decoder, log *slog.Logger, caughtUp func()) error {
	progress, err := startProgress(ctx, cl)
	if err != nil {
		return err
	}
	caught := false
	check := func(idle bool) {
		if !caught && progress.done(idle) {
			caught = true
			caughtUp()
		}
	}
	check(false)
	for {
		poll, cancel := ctx, context.CancelFunc(func() {})
		if !caught {
			poll, cancel = context.WithTimeout(ctx, idlePoll)
		}
		fetches := cl.PollFetches(poll)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("subscription topic fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		var changes []*cdc.Change
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			ch, err := decode(ctx, dec, r, log)
			if err != nil {
				return err
			}
			if ch != nil {
				changes = append(changes, ch)
			}
			progress.reached(r)
		}
		for _, p := range v.Apply(changes) {
			log.Warn("subscription not used", "err", p)
		}
		check(fetches.NumRecords() == 0)
	}
}

// decode reads one change record, retrying failures that may pass until ctx ends.
func decode(ctx context.Context, dec *cdc.Decoder, r *kgo.Record, log *slog.Logger) (*cdc.Change, error) {
	wait := 100 * time.Millisecond
	for {
		ch, err := dec.Decode(ctx, r)
		if err == nil {
			return ch, nil
		}
		if _, poison := cdc.IsPoison(err); poison {
			log.Error("unreadable subscription change left out", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			return nil, nil
		}
		log.Warn("subscription change not decoded yet; retrying", "topic", r.Topic, "offset", r.Offset, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// progress tracks how far each partition has been read against its end offset at the start.
type progress struct {
	want map[string]map[int32]int64 // end offsets still to reach
	got  map[string]map[int32]int64 // next offset after the last record read
}

func startProgress(ctx context.Context, cl *kgo.Client) (*progress, error) {
	adm := kadm.NewClient(cl)
	topics := cl.GetConsumeTopics()
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %v: %w", topics, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("start offsets of %v: %w", topics, err)
	}
	p := &progress{want: map[string]map[int32]int64{}, got: map[string]map[int32]int64{}}
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset > start.Offset {
			set(p.want, o.Topic, o.Partition, o.Offset)
			set(p.got, o.Topic, o.Partition, start.Offset)
		}
	})
	return p, nil
}

func set(m map[string]map[int32]int64, topic string, partition int32, offset int64) {
	if m[topic] == nil {
		m[topic] = map[int32]int64{}
	}
	m[topic][partition] = offset
}

func (p *progress) reached(r *kgo.Record) {
	if _, ok := p.want[r.Topic][r.Partition]; ok {
		p.got[r.Topic][r.Partition] = r.Offset + 1
	}
}

// done reports whether every partition is read to its end. After an empty poll (idle), a
// partition one short of its end counts as read: the last offset is a transaction marker.
func (p *progress) done(idle bool) bool {
	for topic, parts := range p.want {
		for part, end := range parts {
			got := p.got[topic][part]
			if got < end && (!idle || got < end-1) {
				return false
			}
		}
	}
	return true
}
