//! What a finished run leaves in its folder: `results.json`, `report.md` and the PNG plots the
//! report links to.

use std::path::{Path, PathBuf};

use distil_core::fs::write_atomically;

use super::results::Results;
use super::{plots, report};

/// Writes the results, the plots (a loss curve per `curves` entry whose `metrics.jsonl`
/// exists, and the GLUE bars) and the report; returns the report's path.
pub fn write_outputs(
    run_dir: &Path,
    results: &Results,
    curves: &[(String, PathBuf)],
) -> anyhow::Result<PathBuf> {
    write_atomically(
        &run_dir.join("results.json"),
        &serde_json::to_vec_pretty(results)?,
    )?;
    let report_path = run_dir.join("report.md");
    let mut text = report::render(results);
    let plots_dir = run_dir.join("plots");
    std::fs::create_dir_all(&plots_dir)?;
    let mut drawn = Vec::new();
    for (name, metrics) in curves {
        if metrics.is_file() {
            let png = plots_dir.join(format!("loss-{name}.png"));
            plots::loss_curves(metrics, &format!("{name}: training loss"), &png)?;
            drawn.push(png);
        }
    }
    if !results.tasks.is_empty() {
        let png = plots_dir.join("glue-scores.png");
        plots::score_bars(&results.tasks, &results.glue, &png)?;
        drawn.push(png);
    }
    if !drawn.is_empty() {
        text.push_str("## Plots\n\n");
        for png in drawn {
            let rel = png.strip_prefix(run_dir).unwrap_or(&png);
            text.push_str(&format!("![{}]({})\n", rel.display(), rel.display()));
        }
    }
    write_atomically(&report_path, text.as_bytes())?;
    Ok(report_path)
}
