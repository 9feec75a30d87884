package eos_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gostreams/streams/eos"
)

func TestGuaranteeString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "AtLeastOnce", eos.AtLeastOnce.String())
	require.Equal(t, "AtMostOnce", eos.AtMostOnce.String())
	require.Equal(t, "ExactlyOnce", eos.ExactlyOnce.String())
	require.Equal(t, "Guarantee(9)", eos.Guarantee(9).String())
	var zero eos.Guarantee
	require.Equal(t, eos.AtLeastOnce, zero, "the zero value is the default")
}
