package main

import (
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
)

// processorOptions returns extra options for the processor that `process` runs. A normal build
// adds none; a build with the faultsuite tag (faultsuite.go, test-only) replaces it so that the
// fault-injection suite can prove it catches deliberately broken claimers.
var processorOptions = func(config.Config) ([]processor.Option, error) { return nil, nil }
