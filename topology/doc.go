// Package topology declares, as data, every topic loyaltyhooks reads or writes: its partitions,
// key, cleanup policy, and which component reads and writes it. Commands derive topic names from
// it instead of spelling them, and it creates the topics a deployment lacks. It must never
// shrink or delete a topic.
package topology
