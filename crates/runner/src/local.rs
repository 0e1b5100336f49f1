//! The local scheduler: runs the selected stages on this machine, up to `-j` at once, each
//! through [`crate::exec::run_stage`] as soon as its upstream stages have succeeded; after a
//! failure (without `--keep-going`) or a signal, what has not started is skipped.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::ctx::Ctx;
use crate::error::Result;
use crate::exec::{Finished, Outcome, run_stage};
use crate::pipeline::Stage;
use crate::plan::Selection;
use crate::process::stop_signal;
use crate::staging::prepare_run;

/// A stage settled without running (skipped): reported and listed, with no time.
fn record_unrun(
    stage: &str,
    o: &Outcome,
    report: &(dyn Fn(&Finished) + Sync),
    finished: &mut Vec<Finished>,
) {
    let f = Finished {
        stage: stage.to_owned(),
        outcome: o.clone(),
        elapsed: Duration::ZERO,
    };
    report(&f);
    finished.push(f);
}

/// Runs the selected stages, up to `jobs` at once, calling `report` as each one finishes.
pub fn run(
    ctx: &Ctx,
    sel: &Selection,
    jobs: usize,
    keep_going: bool,
    report: &(dyn Fn(&Finished) + Sync),
) -> Result<Vec<Finished>> {
    let selected = sel.stages(ctx.p)?;
    prepare_run(ctx)?;
    let order = ctx.p.topo_order();
    // Each stage's place in the order, its distinct upstream stages and its dependents: a stage
    // becomes ready when its last upstream stage is done, so each event costs what it touches,
    // not a pass over every stage (4 000 `foreach` items made the run quadratic).
    let place: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut upstream_left: Vec<usize> = vec![0; order.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    for (i, s) in order.iter().enumerate() {
        let ups: BTreeSet<usize> = s
            .inputs
            .values()
            .filter_map(|r| place.get(r.stage.as_str()).copied())
            .collect();
        upstream_left[i] = ups.len();
        for u in ups {
            dependents[u].push(i);
        }
    }
    let mut outcome: Vec<Option<Outcome>> = vec![None; order.len()];
    // Stages whose upstream stages all succeeded and which are to run, by place in the order.
    let mut ready: BTreeSet<usize> = BTreeSet::new();
    let mut finished = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel::<Finished>();
    let jobs = jobs.max(1);

    // The stages with no upstream stage: ready, or settled as not selected.
    let mut roots = Vec::new();
    for (i, s) in order.iter().enumerate() {
        if upstream_left[i] == 0 {
            if selected.contains(&s.name) {
                ready.insert(i);
            } else {
                roots.push(i);
            }
        }
    }
    // Marks stage `i` done and settles or readies what that frees, in order.
    let mut done = |i: usize,
                    o: Outcome,
                    outcome: &mut Vec<Option<Outcome>>,
                    ready: &mut BTreeSet<usize>,
                    finished: &mut Vec<Finished>| {
        let mut todo = vec![(i, o)];
        while let Some((i, o)) = todo.pop() {
            outcome[i] = Some(o);
            for &d in &dependents[i] {
                upstream_left[d] -= 1;
                if upstream_left[d] > 0 {
                    continue;
                }
                let s = order[d];
                let bad = s.inputs.values().find(|r| {
                    place
                        .get(r.stage.as_str())
                        .and_then(|&u| outcome[u].as_ref())
                        .is_some_and(|o| !o.ok())
                });
                let settled = if !selected.contains(&s.name) {
                    Some(Outcome::NotSelected)
                } else {
                    bad.map(|r| Outcome::Skipped(format!("upstream `{}` did not succeed", r.stage)))
                };
                match settled {
                    Some(o) => {
                        if o != Outcome::NotSelected {
                            record_unrun(&s.name, &o, report, finished);
                        }
                        todo.push((d, o));
                    }
                    None => {
                        ready.insert(d);
                    }
                }
            }
        }
    };
    for i in roots {
        done(
            i,
            Outcome::NotSelected,
            &mut outcome,
            &mut ready,
            &mut finished,
        );
    }
    std::thread::scope(|scope| {
        let mut running = 0usize;
        let mut stop = false;
        loop {
            // Start what is ready, in order, while there is room; after a failure or a signal
            // every ready stage is skipped instead.
            while let Some(&i) = ready.first() {
                let why = if stop_signal() != 0 {
                    Some("the run was stopped by a signal")
                } else if stop {
                    Some("the run stopped after a failure (use --keep-going)")
                } else {
                    None
                };
                if why.is_none() && running >= jobs {
                    break;
                }
                ready.remove(&i);
                let s: &Stage = order[i];
                if let Some(why) = why {
                    let o = Outcome::Skipped(why.into());
                    record_unrun(&s.name, &o, report, &mut finished);
                    done(i, o, &mut outcome, &mut ready, &mut finished);
                    continue;
                }
                running += 1;
                let tx = tx.clone();
                let forced = sel.forced(&s.name);
                scope.spawn(move || {
                    let start = Instant::now();
                    let outcome = run_stage(ctx, s, forced);
                    let _ = tx.send(Finished {
                        stage: s.name.clone(),
                        outcome,
                        elapsed: start.elapsed(),
                    });
                });
            }
            if running == 0 {
                break;
            }
            let Ok(f) = rx.recv() else { break };
            running -= 1;
            if !f.outcome.ok() && !keep_going {
                stop = true;
            }
            report(&f);
            let o = f.outcome.clone();
            let i = place.get(f.stage.as_str()).copied();
            finished.push(f);
            if let Some(i) = i {
                done(i, o, &mut outcome, &mut ready, &mut finished);
            }
        }
    });
    // The printed total includes storing the last outputs in the run cache.
    ctx.finish_stores();
    Ok(finished)
}
