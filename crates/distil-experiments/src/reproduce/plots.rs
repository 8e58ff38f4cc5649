//! PNG plots with `plotters`: the loss curves of a training run (from its `metrics.jsonl`) and
//! the per-task score bars of every fine-tuned model beside the paper's.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ablation::Ablation;
use super::paper;
use super::results::{TaskScore, NO_DISTILLATION, NO_PRETRAINING, STUDENT, TEACHER};

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

/// Width of the legend column right of the bars, in pixels.
const LEGEND_WIDTH: u32 = 210;

/// The models of `glue` in the report's order: teacher, student, no-distillation,
/// no-pretraining, the ablations in Table 4's order, then any other by name.
fn model_order(glue: &BTreeMap<String, BTreeMap<String, TaskScore>>) -> Vec<&str> {
    let known: Vec<&str> = [TEACHER, STUDENT, NO_DISTILLATION, NO_PRETRAINING]
        .into_iter()
        .chain(Ablation::ALL.iter().map(|a| a.name()))
        .collect();
    let listed = known.iter().copied().filter(|m| glue.contains_key(*m));
    let rest = glue
        .keys()
        .map(String::as_str)
        .filter(|m| !known.contains(m));
    listed.chain(rest).collect()
}

/// Grouped bars: per task, the paper's BERT-base and DistilBERT and each of our models (`glue`:
/// model to task to score). Every group is labelled with its task under the axis, and the legend
/// stands in a column of its own right of the bars.
pub fn score_bars(
    tasks: &[String],
    glue: &BTreeMap<String, BTreeMap<String, TaskScore>>,
    out: &Path,
) -> anyhow::Result<()> {
    let mut groups: Vec<(String, Vec<f64>)> = vec![
        ("BERT-base (paper)".into(), Vec::new()),
        ("DistilBERT (paper)".into(), Vec::new()),
    ];
    let models = model_order(glue);
    for model in &models {
        groups.push((format!("{model} (ours)"), Vec::new()));
    }
    for task in tasks {
        let (bert, distil) = paper::glue_scores(task).unwrap_or((f64::NAN, f64::NAN));
        groups[0].1.push(bert);
        groups[1].1.push(distil);
        for (i, model) in models.iter().enumerate() {
            let score = glue
                .get(*model)
                .and_then(|s| s.get(task))
                .map_or(f64::NAN, |s| s.median);
            groups[i + 2].1.push(score);
        }
    }
    let n_tasks = tasks.len();
    let width = groups.len() as f64 + 1.0;
    let min_score = groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::min);
    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption("GLUE dev: paper vs this run", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..(n_tasks as f64 * width), min_score..100.0)?;
    // No x ticks: plotters places them at round numbers, not at the groups; the task names
    // are drawn under each group's centre below.
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("score (0-100)")
        .draw()?;
    for (g, (_, scores)) in groups.iter().enumerate() {
        let color = Palette99::pick(g).to_rgba();
        let bars = scores
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(move |(t, &v)| {
                let x = t as f64 * width + 0.5 + g as f64;
                Rectangle::new([(x, 0.0), (x + 0.9, v)], color.filled())
            });
        chart.draw_series(bars)?;
    }
    let task_font = ("sans-serif", 16)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let group_span = groups.len() as f64 - 0.1;
    for (t, task) in tasks.iter().enumerate() {
        let centre = t as f64 * width + 0.5 + group_span / 2.0;
        let (x, y) = chart.backend_coord(&(centre, min_score));
        plot_area.draw(&Text::new(task.as_str(), (x, y + 8), task_font.clone()))?;
    }
    let legend_font = ("sans-serif", 15)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (g, (label, _)) in groups.iter().enumerate() {
        let y = 60 + 24 * g as i32;
        let color = Palette99::pick(g).to_rgba();
        legend_area.draw(&Rectangle::new([(4, y - 6), (18, y + 6)], color.filled()))?;
        legend_area.draw(&Text::new(label.as_str(), (26, y), legend_font.clone()))?;
    }
    root.present()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_ordered_as_in_the_report() {
        let glue: BTreeMap<String, BTreeMap<String, TaskScore>> = [
            "random-init",
            "extra",
            "no-ce",
            "no-pretraining",
            "student",
            "no-distillation",
            "teacher",
        ]
        .into_iter()
        .map(|m| (m.to_string(), BTreeMap::new()))
        .collect();
        assert_eq!(
            model_order(&glue),
            [
                "teacher",
                "student",
                "no-distillation",
                "no-pretraining",
                "no-ce",
                "random-init",
                "extra"
            ]
        );
    }

    #[test]
    fn score_bars_draw_a_png_of_the_chart_size() {
        let tasks: Vec<String> = ["rte", "sts-b", "mrpc"].map(String::from).to_vec();
        let scores = |values: [f64; 3]| -> BTreeMap<String, TaskScore> {
            tasks
                .iter()
                .zip(values)
                .map(|(t, median)| {
                    let score = TaskScore {
                        metric: "acc".into(),
                        seeds: BTreeMap::new(),
                        median,
                    };
                    (t.clone(), score)
                })
                .collect()
        };
        let glue = BTreeMap::from([
            ("teacher".to_string(), scores([66.0, 85.0, 86.0])),
            ("student".to_string(), scores([60.0, 80.0, 84.0])),
            ("no-distillation".to_string(), scores([56.0, 40.0, 78.0])),
            ("no-pretraining".to_string(), scores([52.0, -5.0, 70.0])),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("glue-scores.png");
        score_bars(&tasks, &glue, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // The IHDR chunk: width and height, big-endian, from byte 16.
        let size = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        assert_eq!((size(16), size(20)), SIZE);
    }
}
