//! Progress on a terminal: one line per table in flight and an overall line
//! with tables, rows, bytes, rate and ETA. Off a terminal, structured logs.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pgferry_engine::{Progress, ProgressFn};

struct State {
    multi: MultiProgress,
    overall: ProgressBar,
    tables: HashMap<String, ProgressBar>,
    rows: u64,
    bytes: u64,
    started: Instant,
}

impl State {
    fn message(&self) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        self.overall.set_message(format!(
            "{} rows, {}, {}/s",
            self.rows,
            HumanBytes(self.bytes),
            HumanBytes((self.bytes as f64 / secs) as u64)
        ));
    }
}

/// A progress callback drawing bars on stderr.
pub(crate) fn terminal() -> ProgressFn {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let overall = multi.add(ProgressBar::new(0));
    overall.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tables, {msg} (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let state = Arc::new(Mutex::new(State {
        multi,
        overall,
        tables: HashMap::new(),
        rows: 0,
        bytes: 0,
        started: Instant::now(),
    }));
    ProgressFn::new(move |p: &Progress| {
        let Ok(mut s) = state.lock() else { return };
        match p {
            Progress::CatalogRead { tables, .. } => {
                s.overall.set_length(*tables as u64);
                s.message();
            }
            Progress::TableStarted { table } => {
                let bar = s.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix}: {bytes} ({bytes_per_sec})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(table.clone());
                s.tables.insert(table.clone(), bar);
            }
            Progress::Bytes { table, bytes } => {
                if let Some(b) = s.tables.get(table) {
                    b.inc(*bytes);
                }
                s.bytes += bytes;
                s.message();
            }
            Progress::TableDone { table, rows, .. } => {
                if let Some(b) = s.tables.remove(table) {
                    b.finish_and_clear();
                    s.multi.remove(&b);
                }
                s.rows += rows;
                s.overall.inc(1);
                s.message();
            }
            Progress::PostData => {
                s.overall
                    .set_message("creating indexes, constraints and other post-data objects");
            }
            Progress::Finished => s.overall.finish_and_clear(),
            _ => {}
        }
    })
}
