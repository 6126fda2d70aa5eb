// Package plot draws line charts, bar charts and heatmaps as PNG files, in
// pure Go, with readable labels (the Go fonts), nicely rounded axis ticks, a
// legend and distinct colours. It is deliberately small: the charts the
// longrecipe reports need, nothing more.
//
// Every chart validates its data before drawing: mismatched lengths,
// infinities and values a log axis cannot show are errors naming the
// series; NaN points are left out (a gap in a line, an empty bar, a grey
// heatmap cell). Files are written atomically.
package plot
