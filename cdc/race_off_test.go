//go:build !race

package cdc_test

const raceEnabled = false
