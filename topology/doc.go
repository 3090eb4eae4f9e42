// Package topology declares, as data, every topic loyaltyhooks reads or writes: its partitions,
// key, cleanup policy, retention, and which component writes and reads it. Commands derive topic
// names from it instead of spelling them. It validates the declaration, prints it (text, JSON,
// Mermaid), compares it with a live cluster, and creates missing topics and grows partitions
// through kadm. It must never shrink or delete a topic.
package topology
