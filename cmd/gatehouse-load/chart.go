package main

import (
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// drawScaleChart draws two panels side by side into a PNG at path: seconds until ready,
// first decision and first list page against the number of objects, and resident memory
// against the number of objects, a line per engine, the number of objects on a
// logarithmic axis.
func drawScaleChart(path string, results []scaleResult) error {
	byEngine := map[string][]scaleResult{}
	var engines []string
	for _, r := range results {
		if _, ok := byEngine[r.engine]; !ok {
			engines = append(engines, r.engine)
		}
		byEngine[r.engine] = append(byEngine[r.engine], r)
	}
	colors := []color.Color{color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}}
	dashes := [][]vg.Length{nil, {vg.Points(5), vg.Points(3)}, {vg.Points(1), vg.Points(3)}}

	times := plot.New()
	times.Title.Text = "Restart: time from process start"
	times.X.Label.Text = "objects (members = objects/10, rules = objects/5)"
	times.Y.Label.Text = "seconds"
	mem := plot.New()
	mem.Title.Text = "Resident memory after the first list page"
	mem.X.Label.Text = times.X.Label.Text
	mem.Y.Label.Text = "MiB"
	minX, maxX := float64(results[0].shape.objects), float64(results[0].shape.objects)
	for _, r := range results {
		minX, maxX = min(minX, float64(r.shape.objects)), max(maxX, float64(r.shape.objects))
	}
	for _, p := range []*plot.Plot{times, mem} {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Y.Min = 0
		p.Legend.Top, p.Legend.Left = true, true
		p.Add(plotter.NewGrid())
	}
	// The goals, as dashed grey lines: ready in under 10 s, under 1 GiB.
	for _, g := range []struct {
		p     *plot.Plot
		y     float64
		label string
	}{{times, 10, "goal: ready < 10 s"}, {mem, 1024, "goal: < 1 GiB"}} {
		line, err := plotter.NewLine(plotter.XYs{{X: minX, Y: g.y}, {X: maxX, Y: g.y}})
		if err != nil {
			return err
		}
		line.Color, line.Dashes = color.Gray{Y: 120}, []vg.Length{vg.Points(6), vg.Points(4)}
		g.p.Add(line)
		g.p.Legend.Add(g.label, line)
	}
	for ei, engine := range engines {
		rs := byEngine[engine]
		series := []struct {
			name string
			y    func(scaleResult) float64
		}{
			{"ready", func(r scaleResult) float64 { return r.ready.Seconds() }},
			{"first decision", func(r scaleResult) float64 { return r.firstDecision.Seconds() }},
			{"first list page", func(r scaleResult) float64 { return r.firstList.Seconds() }},
		}
		for si, s := range series {
			line, points, err := plotter.NewLinePoints(xy(rs, s.y))
			if err != nil {
				return err
			}
			line.Color, points.Color, line.Dashes = colors[ei%len(colors)], colors[ei%len(colors)], dashes[si]
			times.Add(line, points)
			times.Legend.Add(engine+": "+s.name, line)
		}
		line, points, err := plotter.NewLinePoints(xy(rs, func(r scaleResult) float64 { return r.rssMiB }))
		if err != nil {
			return err
		}
		line.Color, points.Color = colors[ei%len(colors)], colors[ei%len(colors)]
		mem.Add(line, points)
		mem.Legend.Add(engine, line)
	}
	img := vgimg.New(vg.Points(1100), vg.Points(420))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadY: vg.Points(10), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{times, mem}}, tiles, dc)
	times.Draw(canvases[0][0])
	mem.Draw(canvases[0][1])
	w, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// xy turns results into plot points, leaving out values a log axis cannot show.
func xy(rs []scaleResult, y func(scaleResult) float64) plotter.XYs {
	var pts plotter.XYs
	for _, r := range rs {
		if v := y(r); v > 0 {
			pts = append(pts, plotter.XY{X: float64(r.shape.objects), Y: v})
		}
	}
	if len(pts) == 0 {
		pts = append(pts, plotter.XY{X: 1, Y: 1})
	}
	return pts
}
