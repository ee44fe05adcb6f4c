//! Line charts of recorded series as SVG (plotters' SVG backend): one polyline per series (split
//! where values are missing), phase boundaries as labelled vertical lines.

use plotters::prelude::*;

/// One line of a chart: `(x seconds, y)` points, NaN for a gap.
pub(crate) struct ChartSeries {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// A labelled vertical line.
pub(crate) struct PhaseLine {
    pub name: String,
    pub x: f64,
}

/// What the chart shows.
pub(crate) struct ChartSpec<'a> {
    pub title: &'a str,
    /// `modeled` or `real`, for the x axis' description.
    pub clock: &'a str,
    pub unit: &'a str,
    pub series: &'a [ChartSeries],
    pub phases: &'a [PhaseLine],
}

/// The x unit for a span of seconds: (divisor, name).
fn time_unit(span: f64) -> (f64, &'static str) {
    if span > 3.0 * 3600.0 {
        (3600.0, "h")
    } else if span > 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

/// Tick labels with as many decimals as ticks about a tenth of `range` apart need.
fn axis_format(range: f64) -> impl Fn(&f64) -> String {
    let step = (range / 10.0).abs();
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 9.0) as usize
    } else {
        0
    };
    move |v: &f64| format!("{v:.decimals$}")
}

/// Splits points at NaN values into drawable runs.
fn runs(points: &[(f64, f64)], div: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for &(x, y) in points {
        if y.is_finite() {
            cur.push((x / div, y));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The plotting area's width, pixels: the image's less the y labels and margins.
const PLOT_WIDTH_PX: u32 = 960 - 80 - 2 * 14;
/// About the width of one character of a 13 px sans-serif label, pixels.
const LABEL_CHAR_PX: f64 = 7.0;
/// One row of phase labels, as a share of the plot's height (about 17 px of 424).
const ROW_FRACTION: f64 = 0.04;

/// The row of each label starting at `starts[i]` pixels and `widths[i]` wide: the first row
/// where it begins past the end of every label already on that row.
fn label_rows(starts: &[f64], widths: &[f64]) -> Vec<usize> {
    let mut ends: Vec<f64> = Vec::new();
    starts
        .iter()
        .zip(widths)
        .map(|(&start, &width)| {
            let row = ends
                .iter()
                .position(|&end| start >= end)
                .unwrap_or(ends.len());
            if row == ends.len() {
                ends.push(0.0);
            }
            ends[row] = start + width;
            row
        })
        .collect()
}

/// Draws the chart; returns the SVG text.
pub(crate) fn svg(spec: &ChartSpec) -> Result<String, DrawingAreaErrorKind<std::io::Error>> {
    let xs = spec
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(spec.phases.iter().map(|p| p.x));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !x0.is_finite() || !x1.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    let (div, unit) = time_unit(x1 - x0);
    let (x0, mut x1) = (x0 / div, x1 / div);
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let ys = spec
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite());
    let (mut y0, mut y1) = ys.fold((0f64, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    if !y1.is_finite() || y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.08;
    if y0 < 0.0 {
        y0 -= pad;
    }
    y1 += pad;

    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (960, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(spec.title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let (xf, yf) = (axis_format(x1 - x0), axis_format(y1 - y0));
        chart
            .configure_mesh()
            .x_desc(format!("time since start ({} {unit})", spec.clock))
            .y_desc(spec.unit)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, s) in spec.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mut first = true;
            for run in runs(&s.points, div) {
                let drawn = chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
                if first {
                    drawn.label(s.label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                    first = false;
                }
            }
        }
        let grey = RGBColor(90, 90, 90);
        // Labels of phases close together go on rows of their own, so none is printed over
        // another: each on the first row where it clears the labels already there.
        let plot_px = f64::from(PLOT_WIDTH_PX);
        let starts: Vec<f64> = spec
            .phases
            .iter()
            .map(|p| (p.x / div - x0) / (x1 - x0) * plot_px)
            .collect();
        let widths: Vec<f64> = spec
            .phases
            .iter()
            .map(|p| LABEL_CHAR_PX * (p.name.chars().count() + 1) as f64)
            .collect();
        let rows = label_rows(&starts, &widths);
        for (i, p) in spec.phases.iter().enumerate() {
            let x = p.x / div;
            let label_y = y1 - (y1 - y0) * ROW_FRACTION * rows[i] as f64;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, y0), (x, y1)],
                grey.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!(" {}", p.name),
                (x, label_y),
                ("sans-serif", 13).into_font().color(&grey),
            )))?;
        }
        if spec.series.len() > 1 || spec.series.iter().any(|s| !s.label.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .label_font(("sans-serif", 12))
                .draw()?;
        }
        root.present()?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_labels_close_together_each_get_a_row() {
        // The 2020 test's first phases start within seconds of each other on an hours-long
        // chart: three rows; the teardown far to the right goes back to the first.
        let rows = label_rows(&[0.0, 2.0, 5.0, 800.0], &[170.0, 140.0, 56.0, 70.0]);
        assert_eq!(rows, vec![0, 1, 2, 0]);
        // Far apart, one row.
        assert_eq!(label_rows(&[0.0, 300.0, 600.0], &[100.0; 3]), vec![0, 0, 0]);
    }

    #[test]
    fn a_chart_holds_every_point_and_the_phase_lines() {
        let points: Vec<(f64, f64)> = (0..50).map(|i| (i as f64 * 5.0, (i * i) as f64)).collect();
        let series = [
            ChartSeries {
                label: "name=a<b>".into(),
                points: points.clone(),
            },
            ChartSeries {
                label: "gap".into(),
                points: vec![(0.0, 1.0), (5.0, f64::NAN), (10.0, 2.0), (15.0, 3.0)],
            },
        ];
        let phases = [PhaseLine {
            name: "adopt & sync".into(),
            x: 100.0,
        }];
        let text = svg(&ChartSpec {
            title: "Workqueue depth",
            clock: "real",
            unit: "items",
            series: &series,
            phases: &phases,
        })
        .unwrap();
        let doc = roxml_check(&text);
        assert!(doc.starts_with("<svg"), "{doc}");
        let polylines: Vec<usize> = text
            .split("<polyline")
            .skip(1)
            .filter_map(|p| {
                let pts = p.split("points=\"").nth(1)?.split('"').next()?;
                Some(pts.split_whitespace().count())
            })
            .collect();
        assert!(polylines.contains(&50), "{polylines:?}");
        assert!(
            polylines.contains(&2),
            "the gap splits the second series: {polylines:?}"
        );
        assert!(text.contains("adopt &amp; sync"), "labels are escaped");
        assert!(text.contains("name=a&lt;b&gt;"));
        assert!(text.contains("time since start (real min)"));
    }

    #[test]
    fn tick_labels_have_the_decimals_the_range_needs() {
        assert_eq!(axis_format(60000.0)(&20000.0), "20000");
        assert_eq!(axis_format(0.12)(&0.02), "0.02");
        assert_eq!(axis_format(5.0)(&2.5), "2.5");
        assert_eq!(axis_format(0.0)(&1.0), "1");
    }

    #[test]
    fn an_empty_chart_still_draws() {
        let text = svg(&ChartSpec {
            title: "nothing",
            clock: "real",
            unit: "",
            series: &[],
            phases: &[],
        })
        .unwrap();
        assert!(roxml_check(&text).starts_with("<svg"));
    }

    /// Minimal well-formedness check: tags balance.
    fn roxml_check(text: &str) -> &str {
        let mut stack = Vec::new();
        let mut rest = text.trim_start();
        if rest.starts_with("<?xml") {
            rest = &rest[rest.find("?>").unwrap() + 2..];
        }
        let body = rest.trim_start();
        let mut s = body;
        while let Some(i) = s.find('<') {
            let end = s[i..].find('>').expect("tag closes") + i;
            let tag = &s[i + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim().to_string()), "balanced");
            } else if !tag.ends_with('/') && !tag.starts_with('!') && !tag.starts_with('?') {
                stack.push(tag.split_whitespace().next().unwrap().to_string());
            }
            s = &s[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        body
    }
}
