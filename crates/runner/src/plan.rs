//! The plan: which stages a run selects and forces (`--only`, `--until`, `--from`, `--force`),
//! and what `run` would do with each (run, restore from the run cache, up to date, skip) and why,
//! without running anything. Both schedulers start from it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::hash;
use crate::pipeline::{Pipeline, PortRef};
use crate::stale::{Reason, staleness};

/// What a run would do with a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Stale: it runs.
    Run,
    /// Stale, but a run with its key is in the run cache: its outputs are restored.
    Restore,
    /// Its lock entry holds.
    UpToDate,
    /// Not selected.
    Skip,
}

impl Action {
    /// The word `plan` prints.
    pub fn word(self) -> &'static str {
        match self {
            Action::Run => "run",
            Action::Restore => "restore",
            Action::UpToDate => "up-to-date",
            Action::Skip => "skip",
        }
    }

    /// Whether the stage's outputs will change (it runs or is restored).
    pub fn stale(self) -> bool {
        matches!(self, Action::Run | Action::Restore)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.word())
    }
}

/// What `plan` and `status` say of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub stage: String,
    pub action: Action,
    pub reasons: Vec<Reason>,
}

/// Which stages a run selects and forces.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub force: Vec<String>,
    pub force_all: bool,
    pub only: Option<String>,
    pub until: Option<String>,
    pub from: Option<String>,
}

impl Selection {
    /// The selected stage names; an error names an unknown stage.
    pub fn stages(&self, p: &Pipeline) -> Result<HashSet<String>> {
        for name in self
            .force
            .iter()
            .chain(&self.only)
            .chain(&self.until)
            .chain(&self.from)
        {
            if p.stage(name).is_none() {
                let known: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
                return Err(Error::UnknownStage {
                    name: name.clone(),
                    file: p.file.clone(),
                    known: known.join(", "),
                });
            }
        }
        let mut set: HashSet<String> = p.stages.iter().map(|s| s.name.clone()).collect();
        if let Some(only) = &self.only {
            set = HashSet::from([only.clone()]);
        }
        if let Some(until) = &self.until {
            let mut keep = HashSet::new();
            let mut todo = vec![until.clone()];
            while let Some(n) = todo.pop() {
                if keep.insert(n.clone())
                    && let Some(s) = p.stage(&n)
                {
                    todo.extend(s.inputs.values().map(|r| r.stage.clone()));
                }
            }
            set.retain(|n| keep.contains(n));
        }
        if let Some(from) = &self.from {
            let mut keep = HashSet::new();
            let mut todo = vec![from.clone()];
            while let Some(n) = todo.pop() {
                if keep.insert(n.clone()) {
                    todo.extend(p.children(&n).iter().map(|s| s.name.clone()));
                }
            }
            set.retain(|n| keep.contains(n));
        }
        if set.is_empty() {
            return Err(Error::EmptySelection(self.describe()));
        }
        Ok(set)
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (flag, v) in [
            ("--only", &self.only),
            ("--until", &self.until),
            ("--from", &self.from),
        ] {
            if let Some(v) = v {
                parts.push(format!("{flag} {v}"));
            }
        }
        parts.join(" ")
    }

    pub(crate) fn forced(&self, name: &str) -> bool {
        self.force_all || self.force.iter().any(|f| f == name)
    }
}

/// What `run` would do, without running: a stage downstream of one that will run is marked with
/// an `upstream` reason (it runs unless the upstream output comes out byte-identical). A stale
/// stage whose key (with the outputs its upstream stages would restore) is in the run cache is
/// planned as `restore`.
pub fn plan(ctx: &Ctx, sel: &Selection) -> Result<Vec<Planned>> {
    let selected = sel.stages(ctx.p)?;
    let lock = ctx.locks.read(&ctx.p.lock_path());
    let mut will_run: HashSet<String> = HashSet::new();
    // Stage name to the outputs (port to hash) it would restore.
    let mut will_restore: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut out = Vec::new();
    for stage in ctx.p.topo_order() {
        if !selected.contains(&stage.name) {
            out.push(Planned {
                stage: stage.name.clone(),
                action: Action::Skip,
                reasons: vec![],
            });
            continue;
        }
        let mut reasons = Vec::new();
        let forced = sel.forced(&stage.name);
        if forced {
            reasons.push(Reason::Forced);
        }
        let current = |r: &PortRef| {
            hash::path(&ctx.keys.abs(&ctx.p.output_path(r).unwrap_or_default()))
                .ok()
                .flatten()
        };
        // An upstream restore that brings back the bytes there now changes nothing here.
        let mut upstream: Vec<&str> = stage
            .inputs
            .values()
            .filter(|r| {
                will_run.contains(&r.stage)
                    || will_restore
                        .get(&r.stage)
                        .is_some_and(|o| o.get(&r.port) != current(r).as_ref())
            })
            .map(|r| r.stage.as_str())
            .collect();
        upstream.sort();
        upstream.dedup();
        let own = staleness(&ctx.keys, stage, lock.stages.get(&stage.name));
        // An input about to be rewritten upstream says more than its current hash.
        let own: Vec<Reason> = own
            .into_iter()
            .filter(|r| {
                upstream.is_empty()
                    || !matches!(r, Reason::Input { .. } | Reason::InputMissing { .. })
            })
            .collect();
        reasons.extend(own);
        reasons.extend(upstream.iter().map(|s| Reason::Upstream {
            stage: s.to_string(),
        }));
        let mut action = if reasons.is_empty() {
            Action::UpToDate
        } else {
            Action::Run
        };
        if action == Action::Run && !forced && !upstream.iter().any(|u| will_run.contains(*u)) {
            let input_hash = |r: &PortRef| match will_restore.get(&r.stage) {
                Some(o) => o.get(&r.port).cloned(),
                None => current(r),
            };
            let hash_now = |p: &str| hash::file(&ctx.keys.abs(p)).ok();
            if let Ok(key) = ctx.keys.key_entry(stage, &input_hash)
                && let Some(hit) = ctx.cache.lookup(&key, &hash_now)
            {
                action = Action::Restore;
                will_restore.insert(
                    stage.name.clone(),
                    hit.record
                        .outputs
                        .iter()
                        .map(|(port, f)| (port.clone(), f.blake3.clone()))
                        .collect(),
                );
            }
        }
        if action == Action::Run {
            will_run.insert(stage.name.clone());
        }
        out.push(Planned {
            stage: stage.name.clone(),
            action,
            reasons,
        });
    }
    Ok(out)
}
