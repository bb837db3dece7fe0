//! The graph's schedules, checked against it: a schedule's selection is resolved once, when
//! the graph is built, so a typo in one fails the definitions rather than a night's tick.

use crate::graph::AssetGraph;
use crate::model::definitions::Definitions;
use crate::model::error::{Error, Result};
use crate::model::ids::NodeIx;
use crate::model::spec::PartitionsDefinition;
use crate::model::state::StatusSnapshot;

use super::Selection;

impl AssetGraph {
    /// Validates `definitions`, builds the graph, and checks each schedule against it.
    pub fn new(definitions: Definitions) -> Result<Self> {
        Self::build(definitions)?.check_schedules()
    }

    /// Checks each schedule against the graph: its cron expression and zone, its selection, and
    /// that a partitioned schedule selects assets of one time-window definition.
    fn check_schedules(mut self) -> Result<Self> {
        let schedules = std::mem::take(&mut self.schedules);
        use crate::model::schedule::TickPartitions;
        let mut problems = Vec::new();
        let mut names = std::collections::HashSet::new();
        for s in &schedules {
            let name = s.name();
            if !names.insert(name.to_owned()) {
                problems.push(format!("schedule {name} is defined twice"));
            }
            if let Err(e) = s.cron() {
                problems.push(e.to_string().replace("definition error: ", ""));
            }
            let selection = match Selection::parse(s.selection()) {
                Ok(sel) => sel,
                Err(e) => {
                    problems.push(format!("schedule {name}: {e}"));
                    continue;
                }
            };
            if selection.needs_status() {
                continue;
            }
            let set = match selection.resolve(&self, &StatusSnapshot::unavailable()) {
                Ok(set) => set,
                Err(e) => {
                    problems.push(format!("schedule {name}: {e}"));
                    continue;
                }
            };
            let defs: Vec<&PartitionsDefinition> = set
                .ones()
                .map(NodeIx::new)
                .filter(|&n| !self.asset(n).is_external())
                .filter_map(|n| self.spec(n).partitions.as_ref())
                .collect();
            match s.partitions() {
                TickPartitions::None if !defs.is_empty() => problems.push(format!(
                    "schedule {name}: its selection has partitioned assets; say which partition \
                     a tick materializes (latest_completed_partition)"
                )),
                TickPartitions::LatestCompleted => {
                    if defs.is_empty() {
                        problems.push(format!(
                            "schedule {name}: latest_completed_partition, but its selection has \
                             no partitioned assets"
                        ));
                    } else if !matches!(defs[0], PartitionsDefinition::TimeWindow(_)) {
                        problems.push(format!(
                            "schedule {name}: latest_completed_partition needs time-window \
                             partitions, not {}",
                            defs[0].describe()
                        ));
                    } else if defs.iter().any(|d| *d != defs[0]) {
                        problems.push(format!(
                            "schedule {name}: its selection mixes partitions definitions; give \
                             each its own schedule"
                        ));
                    }
                }
                TickPartitions::None => {}
            }
        }
        if !problems.is_empty() {
            return Err(Error::Definition(format!(
                "the definitions have {} schedule problem{}:\n{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems
                    .iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        self.schedule_windows = schedules.iter().map(|s| self.windows_of(s)).collect();
        self.schedules = schedules;
        Ok(self)
    }

    fn windows_of(
        &self,
        schedule: &crate::model::schedule::ScheduleDef,
    ) -> Option<crate::model::spec::TimeWindows> {
        let set = Selection::parse(schedule.selection())
            .ok()?
            .resolve(self, &StatusSnapshot::unavailable())
            .ok()?;
        set.ones()
            .map(NodeIx::new)
            .filter(|&n| !self.asset(n).is_external())
            .find_map(|n| match self.spec(n).partitions.as_ref() {
                Some(PartitionsDefinition::TimeWindow(t)) => Some(t.clone()),
                _ => None,
            })
    }
}
