package main

import (
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotLine is one line of a panel.
type plotLine struct {
	name  string
	value func(sample) float64
	color color.Color
}

// plotPanel is one panel: its y-axis label and its lines.
type plotPanel struct {
	label string
	lines []plotLine
}

var (
	blue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	orange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
)

var soakPanels = []plotPanel{
	{"memory (MiB)", []plotLine{{"RSS", soakSeriesList[0].value, blue}, {"heap in use", soakSeriesList[1].value, orange}}},
	{"goroutines", []plotLine{{"", soakSeriesList[2].value, blue}}},
	{"open file descriptors", []plotLine{{"", soakSeriesList[3].value, blue}}},
	{"sessions", []plotLine{{"", soakSeriesList[4].value, blue}}},
}

// plotSamples draws the samples as a PNG at path: the panels one above the
// other, over the run's time in minutes, the title above them. The y axes
// start at zero, so that a flat line looks flat.
func plotSamples(path string, samples []sample, title string) error {
	const width, height = 10 * vg.Inch, 11 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	titleStyle := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, 13), XAlign: draw.XCenter,
		YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(titleStyle, vg.Point{X: width / 2, Y: height - 0.2*vg.Inch}, title)
	plots := make([][]*plot.Plot, len(soakPanels))
	for i, panel := range soakPanels {
		p, err := panelPlot(panel, samples)
		if err != nil {
			return err
		}
		if i == len(soakPanels)-1 {
			p.X.Label.Text = "time (minutes)"
		}
		plots[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: 0.6 * vg.Inch, PadBottom: 0.2 * vg.Inch,
		PadLeft: 0.2 * vg.Inch, PadRight: 0.3 * vg.Inch, PadY: 0.3 * vg.Inch}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// panelPlot is one panel's plot; a line without any value is left out.
func panelPlot(panel plotPanel, samples []sample) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = panel.label
	p.Y.Min, p.X.Min = 0, 0
	p.Y.Tick.Marker, p.X.Tick.Marker = plainTicks, plot.TickerFunc(stepTicks)
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	headroom := 1.15 // room above the lines, for the legend if there is one
	if len(panel.lines) > 1 {
		headroom = 1.5
	}
	for _, l := range panel.lines {
		var xys plotter.XYs
		for _, x := range samples {
			if v := l.value(x); !math.IsNaN(v) {
				xys = append(xys, plotter.XY{X: x.at.Minutes(), Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = l.color, vg.Points(1.5)
		p.Add(line)
		p.Y.Max = math.Max(p.Y.Max, math.Max(maxY(xys)*headroom, 1))
		if l.name != "" {
			p.Legend.Add(l.name, line)
		}
	}
	return p, nil
}

// plainTicks are plot's default ticks labelled without trailing zeros
// ("50", not "50.00").
var plainTicks = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(math.Round(t.Value*1e6)/1e6, 'f', -1, 64)
		}
	}
	return ticks
})

// stepTicks labels a tick every 1, 2 or 5 times a power of ten, whichever
// gives at most eight labels, with an unlabelled tick halfway.
func stepTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10(hi-lo)))
	for _, f := range []float64{0.1, 0.2, 0.5, 1} {
		if (hi-lo)/(step*f) <= 8 {
			step *= f
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step / 2 {
		label := ""
		if r := math.Round(v/step*2) / 2; r == math.Trunc(r) {
			label = strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	return ticks
}

func maxY(xys plotter.XYs) float64 {
	m := 0.0
	for _, xy := range xys {
		m = math.Max(m, xy.Y)
	}
	return m
}
