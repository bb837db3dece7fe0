//! Column-level lineage from DataFusion's logical plan: for every output column of a query, the
//! (asset, column) pairs it is computed from, and how (copied, renamed, computed, aggregated).
//!
//! The walk follows the plan's own column resolution — what a `*` expands to, which side of a
//! join a column comes from, what a CTE or subquery alias renames — rather than re-reading the
//! SQL text. Columns used only to filter, join or sort do not count as sources: lineage says
//! where a value comes from.

use std::collections::BTreeSet;

use datafusion::common::TableReference;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};
use serde::{Deserialize, Serialize};

/// One upstream column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    pub asset: String,
    pub column: String,
}

/// How an output column is made from its sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The source column, unchanged, under its own name.
    Identity,
    /// The source column, unchanged, under another name.
    Rename,
    /// Computed row by row from its sources.
    Expression,
    /// Aggregated over rows (or by a window function).
    Aggregate,
    /// From no column at all (a literal).
    Constant,
}

/// The lineage of one output column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnLineage {
    pub column: String,
    pub transform: Transform,
    pub from: Vec<Source>,
}

#[derive(Debug, Clone, Default)]
struct Origin {
    sources: BTreeSet<Source>,
    /// Every step so far passed the value through unchanged.
    direct: bool,
    aggregated: bool,
}

impl Origin {
    fn union<'a>(origins: impl IntoIterator<Item = &'a Origin>) -> Origin {
        let mut out = Origin {
            direct: true,
            ..Origin::default()
        };
        let mut any = false;
        for o in origins {
            any = true;
            out.sources.extend(o.sources.iter().cloned());
            out.direct &= o.direct;
            out.aggregated |= o.aggregated;
        }
        out.direct &= any;
        out
    }

    fn computed(mut self) -> Origin {
        self.direct = false;
        self
    }
}

/// The lineage of every output column of `plan`; `asset_of` names the asset a scanned table is.
pub fn column_lineage(
    plan: &LogicalPlan,
    asset_of: &dyn Fn(&TableReference) -> String,
) -> Vec<ColumnLineage> {
    let origins = walk(plan, asset_of);
    plan.schema()
        .fields()
        .iter()
        .zip(origins)
        .map(|(field, o)| {
            let transform = if o.aggregated {
                Transform::Aggregate
            } else if o.sources.is_empty() {
                Transform::Constant
            } else if !o.direct {
                Transform::Expression
            } else if o.sources.iter().all(|s| &s.column == field.name()) {
                Transform::Identity
            } else {
                Transform::Rename
            };
            ColumnLineage {
                column: field.name().clone(),
                transform,
                from: o.sources.into_iter().collect(),
            }
        })
        .collect()
}

fn walk(plan: &LogicalPlan, asset_of: &dyn Fn(&TableReference) -> String) -> Vec<Origin> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let asset = asset_of(&scan.table_name);
            scan.projected_schema
                .fields()
                .iter()
                .map(|f| Origin {
                    sources: [Source {
                        asset: asset.clone(),
                        column: f.name().clone(),
                    }]
                    .into(),
                    direct: true,
                    aggregated: false,
                })
                .collect()
        }
        LogicalPlan::Projection(p) => {
            let input = walk(&p.input, asset_of);
            p.expr
                .iter()
                .map(|e| expr_origin(e, &p.input, &input))
                .collect()
        }
        LogicalPlan::Aggregate(a) => {
            let input = walk(&a.input, asset_of);
            let grouping_sets = a
                .group_expr
                .iter()
                .any(|e| matches!(e, Expr::GroupingSet(_)));
            if grouping_sets {
                return by_name(plan, &[(&a.input, input)]);
            }
            let mut out: Vec<Origin> = a
                .group_expr
                .iter()
                .map(|e| expr_origin(e, &a.input, &input))
                .collect();
            out.extend(a.aggr_expr.iter().map(|e| {
                let mut o = expr_origin(e, &a.input, &input).computed();
                o.aggregated = true;
                o
            }));
            out
        }
        LogicalPlan::Window(w) => {
            let mut out = walk(&w.input, asset_of);
            let input = out.clone();
            out.extend(w.window_expr.iter().map(|e| {
                let mut o = expr_origin(e, &w.input, &input).computed();
                o.aggregated = true;
                o
            }));
            out
        }
        LogicalPlan::Join(j) => {
            let left = walk(&j.left, asset_of);
            let right = walk(&j.right, asset_of);
            match j.join_type {
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                    let mut r = right;
                    r.resize(plan.schema().fields().len(), Origin::default());
                    r
                }
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
                    let mut l = left;
                    l.resize(plan.schema().fields().len(), Origin::default());
                    l
                }
                _ => left.into_iter().chain(right).collect(),
            }
        }
        LogicalPlan::Union(u) => {
            let inputs: Vec<Vec<Origin>> = u.inputs.iter().map(|i| walk(i, asset_of)).collect();
            (0..plan.schema().fields().len())
                .map(|i| Origin::union(inputs.iter().filter_map(|cols| cols.get(i))))
                .collect()
        }
        LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(_))
        | LogicalPlan::Subquery(_) => {
            let inputs = plan.inputs();
            let input = walk(inputs[0], asset_of);
            if input.len() == plan.schema().fields().len() {
                input
            } else {
                by_name(plan, &[(inputs[0], input)])
            }
        }
        LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => {
            vec![Origin::default(); plan.schema().fields().len()]
        }
        other => {
            let inputs: Vec<(&LogicalPlan, Vec<Origin>)> = other
                .inputs()
                .into_iter()
                .map(|i| (i, walk(i, asset_of)))
                .collect();
            by_name(other, &inputs)
        }
    }
}

/// The origin of an expression over `input`: a bare column (possibly aliased) passes its origin
/// through; anything else is computed from every column it mentions.
fn expr_origin(expr: &Expr, input: &LogicalPlan, origins: &[Origin]) -> Origin {
    let mut e = expr;
    while let Expr::Alias(alias) = e {
        e = &alias.expr;
    }
    let of = |c: &datafusion::common::Column| -> Option<&Origin> {
        input
            .schema()
            .index_of_column(c)
            .ok()
            .and_then(|i| origins.get(i))
    };
    if let Expr::Column(c) = e {
        return of(c).cloned().unwrap_or_default();
    }
    let refs = e.column_refs();
    let mut o = Origin::union(refs.into_iter().filter_map(of));
    o.direct = false;
    o
}

/// For nodes the walk does not know: output columns matched to input columns by name; a column
/// with no match derives from everything.
fn by_name(plan: &LogicalPlan, inputs: &[(&LogicalPlan, Vec<Origin>)]) -> Vec<Origin> {
    plan.schema()
        .fields()
        .iter()
        .map(|field| {
            let matched = inputs.iter().find_map(|(input, origins)| {
                input
                    .schema()
                    .fields()
                    .iter()
                    .position(|f| f.name() == field.name())
                    .and_then(|i| origins.get(i))
            });
            match matched {
                Some(o) => o.clone(),
                None => Origin::union(inputs.iter().flat_map(|(_, o)| o.iter())).computed(),
            }
        })
        .collect()
}
