package shards

// Row is one training sample.
type Row struct {
	InputIDs    []int32
	PositionIDs []int32 // same length as InputIDs
	// LossMask, when not nil, has one entry per token: false means the
	// token is not a prediction target (e.g. a masked prompt).
	LossMask []bool
}
