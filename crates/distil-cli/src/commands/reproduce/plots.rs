//! PNG plots with `plotters`: the loss curves of a training run (from its `metrics.jsonl`) and
//! the per-task score bars of every fine-tuned model beside the paper's.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use super::paper;
use super::results::Results;

const SIZE: (u32, u32) = (900, 540);

/// Every `loss*` series of a `metrics.jsonl`, keyed by name, as (step, value) points.
pub fn read_loss_series(metrics: &Path) -> anyhow::Result<BTreeMap<String, Vec<(f64, f64)>>> {
    let text = std::fs::read_to_string(metrics)
        .with_context(|| format!("reading {}", metrics.display()))?;
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for line in text.lines() {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(line) else {
            continue;
        };
        let Some(step) = fields.get("step").and_then(serde_json::Value::as_f64) else {
            continue;
        };
        for (name, value) in &fields {
            if let (true, Some(v)) = (name.starts_with("loss"), value.as_f64()) {
                if v.is_finite() {
                    series.entry(name.clone()).or_default().push((step, v));
                }
            }
        }
    }
    Ok(series)
}

/// One line per loss series of a run.
pub fn loss_curves(metrics: &Path, title: &str, out: &Path) -> anyhow::Result<()> {
    let series = read_loss_series(metrics)?;
    let points = series.values().flatten();
    let max_step = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let max_loss = points.map(|p| p.1).fold(1e-3, f64::max);
    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..max_step, 0.0..max_loss * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("optimizer step")
        .y_desc("loss")
        .draw()?;
    for (i, (name, points)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// Grouped bars: per task, the paper's BERT-base and DistilBERT and each of our models.
pub fn score_bars(results: &Results, out: &Path) -> anyhow::Result<()> {
    let mut groups: Vec<(String, Vec<f64>)> = vec![
        ("BERT-base (paper)".into(), Vec::new()),
        ("DistilBERT (paper)".into(), Vec::new()),
    ];
    for model in results.glue.keys() {
        groups.push((format!("{model} (ours)"), Vec::new()));
    }
    for task in &results.tasks {
        let (bert, distil) = paper::glue_scores(task).unwrap_or((f64::NAN, f64::NAN));
        groups[0].1.push(bert);
        groups[1].1.push(distil);
        for (i, scores) in results.glue.values().enumerate() {
            let score = scores.get(task).map_or(f64::NAN, |s| s.median);
            groups[i + 2].1.push(score);
        }
    }
    let n_tasks = results.tasks.len();
    let width = groups.len() as f64 + 1.0;
    let min_score = groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::min);
    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let tasks = results.tasks.clone();
    let mut chart = ChartBuilder::on(&root)
        .caption("GLUE dev: paper vs this run", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..(n_tasks as f64 * width), min_score..100.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n_tasks.max(1))
        .x_label_formatter(&|x| {
            let i = (*x / width) as usize;
            tasks.get(i).cloned().unwrap_or_default()
        })
        .y_desc("score (0-100)")
        .draw()?;
    for (g, (label, scores)) in groups.iter().enumerate() {
        let color = Palette99::pick(g).to_rgba();
        let bars = scores
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(move |(t, &v)| {
                let x = t as f64 * width + 0.5 + g as f64;
                Rectangle::new([(x, 0.0), (x + 0.9, v)], color.filled())
            });
        chart
            .draw_series(bars)?
            .label(label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
